"""Evaluator throughput per configuration against plain FP32 inference of the same network.

Measured on a fixed validation set of N CIFAR-shaped random images (default 2000) of the USDN ResNet-20 preset:

* ``evaluator``: ``ConfigEvaluator.evaluate(config)`` on the quantized supernet, a fresh random config per call
  (gates set, one inference-mode pass over the split, every early-exit metric and the reward of USDN Eq. 7-10);
* ``supernet-forward`` (diagnostic): the same supernet, ``set_config`` + inference-mode forward over the split only,
  which separates the cost of quantized inference from the cost of the metrics;
* ``evaluator-bn-recal``: the same with per-path BN recalibration from ``--bn-recalibration`` training-shaped
  images (256 by default, as ``nas search``), what a search evaluation costs by default;
* ``plain-fp32``: ``build_network(..., full_precision=True)`` of the same kind of config (with its ICs), plain
  ``torch.inference_mode`` forward over the same images in the same batches (the reference).

Variants are interleaved call by call (order rotated every round); the ratio evaluator/plain images/s is taken
within each round and the median over rounds is reported. Target: evaluator >= 0.9x plain FP32 images/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, median, minor_faults, raw, rotated, table, verdict

from spaces import SearchSpace, early_exit_reward, load_space
from trainers.early_exit import EarlyExitEvaluation
from trainers.evaluation import ConfigEvaluator
from trainers.networks import build_network, build_supernet
from trainers.training import retain_freed_memory

TARGET_RATIO = 0.9
VARIANTS = ("evaluator", "evaluator-bn-recal", "supernet-forward", "plain-fp32")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="usdn-resnet20-cifar10", help="space preset or YAML file")
    parser.add_argument("--images", type=int, default=2000, help="validation images N (default 2000)")
    parser.add_argument("--batch-size", type=int, default=1024, help="evaluator batch size (ConfigEvaluator default)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    parser.add_argument("--bn-recalibration", type=int, default=256,
                        help="images of per-path BN recalibration in the evaluator-bn-recal variant (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malloc-tuning", action="store_true", help="raise glibc's mmap/trim thresholds first "
                        "(trainers.training.retain_freed_memory, which the platform's Ray workers apply "
                        "at start); off by default, as in a plain Python process")
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tuned = retain_freed_memory() if args.malloc_tuning else False
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA requested but not available", file=sys.stderr)
        return 2
    space = load_space(args.space)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    size = space.backbone.input_size
    inputs = torch.rand(args.images, space.backbone.in_channels, size, size, generator=generator)
    labels = torch.randint(0, space.backbone.num_classes, (args.images,), generator=generator)
    rng = random.Random(args.seed)

    supernet = build_supernet(space)
    evaluator = ConfigEvaluator(space, supernet, inputs, labels, batch_size=args.batch_size, device=device)
    recalibrating = ConfigEvaluator(space, build_supernet(space), inputs, labels, batch_size=args.batch_size,
                                    device=device, calibration_inputs=inputs[: args.bn_recalibration])
    fp32 = build_network(space, space.sample(rng), full_precision=True).to(device).eval()
    batches = [evaluator.inputs[i:i + args.batch_size] for i in range(0, args.images, args.batch_size)]

    @torch.inference_mode()
    def supernet_forward() -> None:
        evaluator.net.set_config(space.sample(rng))
        torch.cat([evaluator.net(b) for b in batches], dim=1)

    @torch.inference_mode()
    def plain() -> None:
        torch.cat([fp32(b) for b in batches], dim=1)

    calls: dict[str, Callable[[], object]] = {
        "evaluator": lambda: evaluator.evaluate(space.sample(rng)),
        "evaluator-bn-recal": lambda: recalibrating.evaluate(space.sample(rng)),
        "supernet-forward": supernet_forward,
        "plain-fp32": plain,
    }
    print(f"space {space.name}, {args.images} images, batch {args.batch_size}, device {device}, "
          f"{args.rounds} rounds (one call per variant per round)")
    print(environment())
    print(f"glibc malloc tuning: {'on' if tuned else 'off'}")
    if device.type == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(device)}")
    for name in VARIANTS:  # warm-up: allocator, first-touch of weights
        timed(device, calls[name])

    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    faults: dict[str, list[int]] = {name: [] for name in VARIANTS}
    for round_index in range(args.rounds):
        for name in rotated(VARIANTS, round_index):
            before = minor_faults()
            times[name].append(timed(device, calls[name]))
            faults[name].append(minor_faults() - before)

    print("\nraw call times [s]:")
    for name in VARIANTS:
        print(f"  {name:<16} {raw(times[name])}")
    plain_time = median(times["plain-fp32"])
    rows = [[name, median(times[name]) * 1000, args.images / median(times[name]),
             plain_time / median(times[name]), int(median(faults[name]))] for name in VARIANTS]
    print()
    print(table(["variant", "median per config [ms]", "images/s", "images/s vs plain", "minor faults/call"], rows))
    print()
    for name in ("evaluator", "evaluator-bn-recal", "supernet-forward"):
        ratios = [p / t for p, t in zip(times["plain-fp32"], times[name], strict=True)]
        ratio = median(ratios)
        target = {"evaluator": f"  [{verdict(ratio, TARGET_RATIO, higher_is_better=True)}]",
                  "evaluator-bn-recal": f"  (with {args.bn_recalibration} images of BN recalibration per config)"
                  }.get(name, "  (diagnostic: quantized inference without metrics)")
        print(f"ratio {name}/plain images/s (median of per-round ratios {raw(ratios, 3)}): {ratio:.3f}x{target}")
    scoring = [scoring_time(evaluator, space, rng) * 1000 for _ in range(20)]
    print(f"scoring one config from stored logits (validate, price, early-exit metrics, reward; what evaluate adds "
          f"to the forward): median {median(scoring):.2f} ms")
    return 0


def scoring_time(evaluator: ConfigEvaluator, space: SearchSpace, rng: random.Random) -> float:
    """Seconds for what ``ConfigEvaluator.evaluate`` does besides the forward pass, on logits computed beforehand."""
    config = space.validate(space.sample(rng))
    logits = evaluator.logits(config)
    start = time.perf_counter()
    config = space.validate(config)
    costs = evaluator.cost.classifier_costs(config)
    result = EarlyExitEvaluation(logits, evaluator.labels, costs.to_classifier, costs.ic_costs)
    metrics = result.metrics(space.budget.threshold, rule="max_softmax")
    evaluator.cost.static_bops(config)
    early_exit_reward(metrics.early_exit_accuracy, metrics.expected_bops, space.budget.target_bops,
                      space.budget.tradeoff)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
