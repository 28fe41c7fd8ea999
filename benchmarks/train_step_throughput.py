"""Train-step throughput of the quantized USDN ResNet-20 against the same network in FP32.

Measured: one training step (forward, multi-exit CE of USDN Eq. 4, backward, gradient clipping, SGD step, as
``trainers.training.loops._epoch`` does) on CIFAR-shaped random data (3x32x32, batch 64), for

* ``supernet``: ``build_supernet`` with ``set_config`` to a fresh random config before every step (the
  uniform path sampling of supernet training; sampling and ``set_config`` are inside the timed step);
* ``fixed-w4a4``: ``build_network`` of the uniform W4A4 config with its ICs (retraining, baselines);
* ``fp32``: ``build_network(..., full_precision=True)`` of that same config (the KD teacher).

Variants are interleaved round by round (order rotated every round); per round the median step time of each
variant is taken and the ratio quantized/FP32 is formed within the round; the reported ratio is the median over
rounds. Target: quantized step time <= 1.3x FP32 on CPU (both ``supernet`` and ``fixed-w4a4``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, median, minor_faults, raw, rotated, table, verdict

from spaces import SearchSpace, load_space
from trainers.networks import MultiExitNetwork, build_network, build_supernet
from trainers.training import TrainingSchedule, multi_exit_loss, retain_freed_memory

TARGET_RATIO = 1.3
VARIANTS = ("supernet", "fixed-w4a4", "fp32")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="usdn-resnet20-cifar10", help="space preset or YAML file")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant per round (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant before round 1")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    parser.add_argument("--no-grad-clip", action="store_true", help="skip clip_grad_norm_ (on by default, as in "
                        "TrainingSchedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malloc-tuning", action="store_true", help="raise glibc's mmap/trim thresholds first "
                        "(trainers.training.retain_freed_memory, which the platform's Ray workers apply "
                        "at start); off by default, as in a plain Python process")
    return parser.parse_args(argv)


class Runner:
    """One variant: a network, its optimizer and what to do before each step."""

    def __init__(self, net: MultiExitNetwork, schedule: TrainingSchedule, device: torch.device,
                 before: Callable[[], None] | None, grad_clip: float | None) -> None:
        self.net = net.to(device).train()
        self.optimizer = schedule.optimizer(self.net)
        self.before = before
        self.grad_clip = grad_clip
        self.device = device

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """One timed training step; returns its wall time in seconds (device synchronised)."""
        sync(self.device)
        start = time.perf_counter()
        if self.before is not None:
            self.before()
        logits = self.net(x)
        loss = multi_exit_loss(logits, y)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss became {loss.item()}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
        self.optimizer.step()
        loss.item()
        sync(self.device)
        return time.perf_counter() - start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_runners(space: SearchSpace, device: torch.device, grad_clip: float | None, seed: int) -> dict[str, Runner]:
    torch.manual_seed(seed)
    schedule = TrainingSchedule()
    config = space.validate(space.uniform((4, 4)))
    rng = random.Random(seed)
    supernet = build_supernet(space)
    return {
        "supernet": Runner(supernet, schedule, device, lambda: supernet.set_config(space.sample(rng)), grad_clip),
        "fixed-w4a4": Runner(build_network(space, config), schedule, device, None, grad_clip),
        "fp32": Runner(build_network(space, config, full_precision=True), schedule, device, None, grad_clip),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tuned = retain_freed_memory() if args.malloc_tuning else False
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA requested but not available", file=sys.stderr)
        return 2
    space = load_space(args.space)
    runners = build_runners(space, device, None if args.no_grad_clip else TrainingSchedule().grad_clip, args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    batches = [(torch.rand(args.batch_size, 3, space.backbone.input_size, space.backbone.input_size,
                           generator=generator).to(device),
                torch.randint(0, space.backbone.num_classes, (args.batch_size,), generator=generator).to(device))
               for _ in range(4)]
    print(f"space {space.name} ({len(space.dimensions)} dims), batch {args.batch_size}, device {device}, "
          f"{args.rounds} rounds x {args.steps} steps per variant, grad clip {not args.no_grad_clip}")
    print(environment())
    print(f"glibc malloc tuning: {'on' if tuned else 'off'}")
    if device.type == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(device)}")

    for name in VARIANTS:
        for i in range(args.warmup):
            runners[name].step(*batches[i % len(batches)])

    per_round: dict[str, list[float]] = {name: [] for name in VARIANTS}
    all_steps: dict[str, list[float]] = {name: [] for name in VARIANTS}
    faults: dict[str, int] = dict.fromkeys(VARIANTS, 0)
    for round_index in range(args.rounds):
        for name in rotated(VARIANTS, round_index):
            before = minor_faults()
            times = [runners[name].step(*batches[i % len(batches)]) for i in range(args.steps)]
            faults[name] += minor_faults() - before
            per_round[name].append(median(times))
            all_steps[name].extend(times)

    print("\nraw per-round median step time [s]:")
    for name in VARIANTS:
        print(f"  {name:<11} {raw(per_round[name])}")
    fp32 = median(all_steps["fp32"])
    rows = []
    for name in VARIANTS:
        step = median(all_steps[name])
        rows.append([name, step * 1000, 1.0 / step, args.batch_size / step, step / fp32,
                     faults[name] // max(1, len(all_steps[name]))])
    print()
    print(table(["variant", "median step [ms]", "steps/s", "images/s", "time / fp32", "minor faults/step"], rows))
    print()
    for name in ("supernet", "fixed-w4a4"):
        ratios = [q / f for q, f in zip(per_round[name], per_round["fp32"], strict=True)]
        ratio = median(ratios)
        print(f"ratio {name}/fp32 step time (median of per-round ratios {raw(ratios, 3)}): {ratio:.3f}x  "
              f"[{verdict(ratio, TARGET_RATIO, higher_is_better=False)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
