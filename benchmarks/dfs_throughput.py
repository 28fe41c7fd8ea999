"""DFS's fractional-skipping network against the plain full-precision network of the same backbone (issue 16),
measured in one run.

* ``train step``: one SGD step of :class:`~trainers.networks.fractional_skip_network.FractionalSkipNetwork` in
  train mode (every non-skip option evaluated on the whole batch and mixed with the straight-through one-hot,
  cross-entropy plus DFS Eq. 2's resource loss, :class:`~trainers.training.resource_loss.ResourceLoss` with the
  space's alpha rule) against one step of the same network with ``gates_enabled = False`` (the plain FP ResNet,
  model A of DFS Sec. 4, cross-entropy only).
* ``inference``: one eval-mode pass with ``grouped_inference = True`` (each block runs only the options its
  samples chose) against the full network (gates off) on the same inputs; the dense mix (``grouped_inference =
  False``, every option on every sample) is timed too, to show what grouping buys.

Networks: the space ``dfs-digits`` (``--space``) and a CIFAR-sized ResNet-38 (``--cifar-depth``, width
``--cifar-width``, input 32), random weights and random inputs (each sample scaled by a factor in [0.3, 3], so
that the gates see different inputs). Untrained gates choose the same option for every sample, so before timing
the gates are *calibrated, not trained*: BN running statistics and the min-max ranges are set by a few
train-mode passes, the gate's shared final linear is scaled to a per-sample logit spread of about 2 and its bias
is moved until the shares of the options over all gated blocks match ``--shares`` (default skip 35 %, W8A8 30 %, W16A16
20 %, full 15 %: cp about 0.2, the preset's target), on a calibration batch other than the timed one.

BOPs per sample on the timed batch, three ways: ``record`` (the mean of the forward record's per-sample cost,
what the evaluator reads), ``cost model`` (the torch-free option table times the decision shares) and
``executed`` (forward hooks on every conv and the FC that ran: samples x MACs x weight bits x activation bits,
plus the gates' fixed pieces), each over the plain network's BOPs. In float simulation a quantized option is a full
float convolution, so CPU time drops only with the skipped blocks; the BOPs are what bit-serial hardware would pay.

Variants are interleaved round by round (order rotated every round); per round the median time of each variant is
taken and the ratios are formed within the round; the reported ratio is the median over rounds.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, median, raw, rotated, table

from spaces import load_space
from spaces.backbones import Backbone
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost.option_costs import SKIP
from trainers.methods.dfs import build_fractional_network, dfs_options
from trainers.networks.fractional_skip_network import FractionalSkipNetwork
from trainers.networks.shared_quant_conv import SharedQuantConvBN, split_bits
from trainers.training.resource_loss import ResourceLoss, alpha_rule

DEFAULT_SHARES = (0.35, 0.30, 0.20, 0.15)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="dfs-digits", help="a DFS preset or space file (default dfs-digits)")
    parser.add_argument("--networks", nargs="+", choices=("space", "cifar"), default=["space", "cifar"])
    parser.add_argument("--cifar-depth", type=int, default=38)
    parser.add_argument("--cifar-width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64, help="batch of the space's network")
    parser.add_argument("--cifar-batch-size", type=int, default=16, help="batch of the CIFAR-sized network")
    parser.add_argument("--shares", type=float, nargs="+", default=list(DEFAULT_SHARES),
                        help="target option shares of the gate calibration, in the space's option order")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per variant and round")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def _timed(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def _inputs(backbone: Backbone, n: int) -> torch.Tensor:
    """Random inputs, each sample scaled by its own factor (so that the gates' pooled inputs differ)."""
    x = torch.randn(n, backbone.in_channels, backbone.input_size, backbone.input_size)
    return x * torch.empty(n, 1, 1, 1).uniform_(0.3, 3.0)


def calibrate_gates(net: FractionalSkipNetwork, x: torch.Tensor, shares: torch.Tensor, iterations: int = 60
                    ) -> None:
    """BN statistics and min-max activation ranges from train-mode passes (every non-skip option on the batch, as
    DFS training runs them), then the gate's final linear scaled to a per-sample logit spread of about 2 and its
    bias moved until the option shares over all blocks match."""
    net.gates_enabled = True
    net.train()
    with torch.no_grad():
        for _ in range(5):
            net(x)
    net.eval()
    logits: list[torch.Tensor] = []
    hook = net.gate.fc.register_forward_hook(lambda _m, _i, out: logits.append(out.detach()))
    with torch.inference_mode():
        net(x)
    hook.remove()
    spread = float(torch.stack(logits).std(dim=1).mean())
    with torch.no_grad():
        net.gate.fc.weight.mul_(2.0 / max(spread, 1e-12))
        for _ in range(iterations):
            with torch.inference_mode():
                record = net(x)
            got = net.decision_counts(record).sum(0).double() / record.decisions["options"].numel()
            net.gate.fc.bias.add_(0.5 * (shares.log() - (got.float() + 1e-3).log()))


def executed_bops(net: FractionalSkipNetwork, x: torch.Tensor) -> float:
    """Mean BOPs per sample of what one eval pass ran: every conv and the FC (samples x MACs x w x a, counted by
    forward hooks), plus the gates' fixed pieces of the cost table (the gate always runs)."""
    total = [0.0]

    def conv_hook(module: nn.Module, args: tuple[object, ...], _out: torch.Tensor) -> None:
        assert isinstance(module, SharedQuantConvBN)
        inputs = args[0]
        assert isinstance(inputs, torch.Tensor)
        w, a = split_bits(args[1] if len(args) > 1 else None)  # type: ignore[arg-type]
        total[0] += inputs.shape[0] * module.spec.macs * (w or 32) * (a or 32)

    def fc_hook(module: nn.Module, args: tuple[object, ...], _out: torch.Tensor) -> None:
        assert isinstance(module, nn.Linear)
        inputs = args[0]
        assert isinstance(inputs, torch.Tensor)
        total[0] += inputs.shape[0] * module.in_features * module.out_features * 32 * 32

    hooks = [m.register_forward_hook(conv_hook) for name, m in net.named_modules()
             if isinstance(m, SharedQuantConvBN) and not name.startswith("gate.")]
    hooks.append(net.head.fc.register_forward_hook(fc_hook))
    try:
        with torch.inference_mode():
            net(x)
    finally:
        for hook in hooks:
            hook.remove()
    gates = math.fsum(v for k, v in net.table.fixed_bops.items() if k.endswith(".gate")) if net.gates_enabled else 0.0
    return total[0] / x.shape[0] + gates


def model_bops(net: FractionalSkipNetwork, counts: torch.Tensor) -> float:
    """The cost table's mean BOPs per sample for the decision ``counts`` ``(U, O)``: fixed pieces plus each unit's
    option BOPs times the share of samples taking it."""
    table = net.table
    n = float(counts[0].sum())
    gated = math.fsum(float(counts[u, o]) / n * table.bops[unit][option]
                      for u, unit in enumerate(table.units) for o, option in enumerate(net.options))
    return math.fsum(table.fixed_bops.values()) + gated


@dataclass(frozen=True)
class Result:
    name: str
    batch: int
    per_round: dict[str, list[float]]
    step_ratio: float
    grouped_ratio: float
    dense_ratio: float
    shares: list[float]
    cp: float
    record: float
    model: float
    executed: float
    executed_full: float
    base: float
    max_diff: float


def measure(name: str, net: FractionalSkipNetwork, batch: int, shares: torch.Tensor, alpha: float, rule: str,
            target: float, args: argparse.Namespace) -> Result:
    """Calibrate the gates, then time the four variants interleaved and read the BOPs of the timed batch."""
    bb = net.backbone
    calibrate_gates(net, _inputs(bb, batch), shares)
    x, y = _inputs(bb, batch), torch.randint(0, bb.num_classes, (batch,))
    dfs_train, plain_train = copy.deepcopy(net).train(), copy.deepcopy(net).train()
    plain_train.gates_enabled = False
    optimisers = {id(m): torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in (dfs_train, plain_train)}
    loss = ResourceLoss(dfs_train.cost, alpha_rule(rule, alpha, target))  # type: ignore[arg-type]
    steps = [0]

    def step_dfs() -> None:
        optimiser = optimisers[id(dfs_train)]
        optimiser.zero_grad(set_to_none=True)
        value, _ = loss(dfs_train(x), y, steps[0])
        value.backward()
        optimiser.step()
        steps[0] += 1

    def step_plain() -> None:
        optimiser = optimisers[id(plain_train)]
        optimiser.zero_grad(set_to_none=True)
        F.cross_entropy(plain_train(x).logits[-1], y).backward()
        optimiser.step()

    def infer(gates: bool, grouped: bool) -> Callable[[], None]:
        def run() -> None:
            net.gates_enabled, net.grouped_inference = gates, grouped
            with torch.inference_mode():
                net(x)
        return run

    net.eval()
    variants = {"step DFS (all options + E)": step_dfs, "step plain FP": step_plain,
                "infer DFS grouped": infer(True, True), "infer DFS dense": infer(True, False),
                "infer full (gates off)": infer(False, False)}
    for fn in variants.values():  # warm-up
        fn()
    per_round: dict[str, list[float]] = {key: [] for key in variants}
    for round_index in range(args.rounds):
        for key in rotated(list(variants), round_index):
            per_round[key].append(_timed(variants[key], args.repeats))

    def ratio(a: str, b: str) -> float:
        return median([p / q for p, q in zip(per_round[a], per_round[b], strict=True)])

    net.gates_enabled, net.grouped_inference = True, True
    with torch.inference_mode():
        record = net(x)
        net.grouped_inference = False
        dense = net(x)
        net.grouped_inference = True
    counts = net.decision_counts(record)
    executed = executed_bops(net, x)
    net.gates_enabled = False
    executed_full = executed_bops(net, x)
    net.gates_enabled = True
    total = counts.sum(0).double() / counts.sum()
    return Result(name, batch, per_round, ratio("step DFS (all options + E)", "step plain FP"),
                  ratio("infer DFS grouped", "infer full (gates off)"),
                  ratio("infer DFS dense", "infer full (gates off)"), total.tolist(),
                  float(net.compute_percentage(record).mean()), float(record.cost[-1].double().mean()),
                  model_bops(net, counts), executed, executed_full, net.base_bops(),
                  float((record.logits - dense.logits).abs().max()))


def report(result: Result, options: tuple[str, ...]) -> None:
    print(f"\n== {result.name}, batch {result.batch}")
    print(table(["variant", "median ms", "per round (ms)"],
                [[key, 1000 * median(times), raw([1000 * t for t in times], 3)]
                 for key, times in result.per_round.items()]))
    mix = ", ".join(f"{o} {100 * s:.0f} %" for o, s in zip(options, result.shares, strict=True))
    print(f"decisions (calibrated gates, timed batch): {mix}; cp {result.cp:.3f}; "
          f"grouped vs dense logits max |diff| {result.max_diff:.2g}")
    print(table(["BOPs per sample", "BOPs", "/ plain FP", "saving"],
                [[label, value, value / result.base, f"{100 * (1 - value / result.base):.1f} %"]
                 for label, value in (("plain FP network (cost model)", result.base),
                                      ("plain FP network (executed)", result.executed_full),
                                      ("DFS record (evaluator)", result.record),
                                      ("DFS cost model (table x shares)", result.model),
                                      ("DFS executed (hooks)", result.executed))]))
    print(f"train step: DFS (every non-skip option, CE + alpha E) / plain FP step = {result.step_ratio:.2f}x")
    print(f"inference: DFS grouped / full network = {result.grouped_ratio:.2f}x CPU time "
          f"(dense mix {result.dense_ratio:.2f}x); {result.record / result.base:.3f}x BOPs "
          f"(record; cost model {result.model / result.base:.3f}x, executed {result.executed / result.base:.3f}x)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = load_space(args.space)
    o = dfs_options(space)
    if len(args.shares) != len(o.options):
        raise SystemExit(f"--shares needs {len(o.options)} values ({', '.join(o.options)}), got {len(args.shares)}")
    shares = torch.tensor(args.shares, dtype=torch.float32)
    shares = shares / shares.sum()
    target = space.budget.target_compute or 1.0
    print(f"dfs_throughput: {datetime.datetime.now().isoformat(timespec='seconds')}, space {space.name}, options "
          f"{'/'.join(o.options)}, {args.rounds} rounds x {args.repeats} repeats; gates calibrated (bias, no "
          f"training) to shares {'/'.join(f'{s:.2f}' for s in shares.tolist())}; alpha {o.alpha} "
          f"{o.alpha_rule} towards cp {target}")
    print(environment())
    results = []
    if "space" in args.networks:
        net = build_fractional_network(space)
        assert isinstance(net, FractionalSkipNetwork)
        bb = space.backbone
        label = f"{space.name} ({bb.name}, width {bb.blocks[0].layers[0].out_channels}, input {bb.input_size})"
        results.append(measure(label, net, args.batch_size, shares, o.alpha, o.alpha_rule, target, args))
    if "cifar" in args.networks:
        backbone = resnet_cifar(args.cifar_depth, 10, args.cifar_width, 32, 3)
        net = FractionalSkipNetwork(backbone, o.options, quantizer=o.quantizer,  # type: ignore[arg-type]
                                    gate_width=o.gate_width, gate_hidden=o.gate_hidden, count_gates=o.count_gates)
        results.append(measure(f"CIFAR ResNet-{args.cifar_depth} (width {args.cifar_width}, input 32, random)", net,
                               args.cifar_batch_size, shares, o.alpha, o.alpha_rule, target, args))
    for result in results:
        report(result, tuple(o.options))
    if SKIP not in o.options:
        print("(no skip option: CPU time cannot drop below the full network's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
