"""DFS's torch side (paper 003): the fractional-skipping network of a DFS space, its three training stages (DFS
Sec. 4: the full-precision base A, step 1 gates only towards cp 100 % with A frozen, step 2 jointly towards the
target cp with Eq. 2's sign-switching alpha), and the evaluator that scores a trial (a target cp, option list,
|alpha|, alpha rule: train-phase knobs) by training its step 2 from the shared step 1 and reading accuracy and
actual cp on the split from one hard-decision pass (Sec. 3.4)."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spaces import Budget, SearchSpace
from spaces.cost.option_costs import SKIP
from spaces.methods.dfs import DfsOptions, option_list_text, parse_option_list
from trainers.evaluation import ConfigEvaluation
from trainers.evaluation.config_evaluator import _reward_of
from trainers.methods.method_networks import MethodNetworks, register_method_networks

PAPER_MILESTONES = (0.5, 0.75)
"""DFS Sec. 4: the rate /10 after iterations 32 000 and 48 000 of 64 000, as fractions of training."""
STEP1_TARGET = 1.0
"""Step 1 trains the gates towards "executing all layers at full bits" (DFS Sec. 4): a target cp of 100 %."""


def dfs_options(space: SearchSpace) -> DfsOptions:
    if not isinstance(space.options, DfsOptions):
        raise ValueError(f"space {space.name!r} is not a DFS space (method {space.method!r})")
    return space.options


def build_fractional_network(space: SearchSpace, options: tuple[str, ...] | None = None) -> nn.Module:
    """The :class:`~trainers.networks.fractional_skip_network.FractionalSkipNetwork` of ``space``'s ``gating:``
    section, with ``options`` overriding its option list (SkipNet's ``("skip", "full")``, a static ``("W8A8",)``)."""
    from trainers.networks.fractional_skip_network import FractionalSkipNetwork

    o = dfs_options(space)
    return FractionalSkipNetwork(space.backbone, options or o.options, quantizer=o.quantizer,  # type: ignore[arg-type]
                                 gate_width=o.gate_width, gate_hidden=o.gate_hidden, count_gates=o.count_gates,
                                 fixed_bits=o.fixed_width)


def paper_schedule(schedule: Any, *, lr_scale: float = 1.0, trainable: Any = "all") -> Any:
    """``schedule`` (its epochs or iterations, rate, batch) in DFS's shape: SGD momentum 0.9, weight decay 1e-4, the
    rate times 0.1 at :data:`PAPER_MILESTONES`; ``lr_scale`` times the rate (step 2: 0.1, i.e. 0.01 after 0.1)."""
    return dataclasses.replace(schedule, lr=schedule.lr * lr_scale, momentum=0.9, weight_decay=1e-4,
                               scheduler="multistep", milestones=PAPER_MILESTONES, gamma=0.1, trainable=trainable)


Settings = tuple[float, str, str, str]
"""``(target cp, option list text, |alpha| text, alpha rule)``: what a trial's train-phase knobs set."""


def own_settings(options: DfsOptions, target: float) -> Settings:
    return float(target), option_list_text(options.options), repr(float(options.alpha)), options.alpha_rule


def train_base(net: nn.Module, batches: Any, schedule: Any, *, device: torch.device | None = None,
               on_epoch: Callable[[int, dict[str, float]], None] | None = None,
               on_step: Callable[[int, dict[str, float]], None] | None = None) -> Any:
    """The full-precision base A of DFS Sec. 4: the network with its gates off (every block at full precision),
    cross-entropy only."""
    from trainers.training.loops import train_loop

    device = device or next(net.parameters()).device
    net.to(device)
    net.gates_enabled = False

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x).logits
        return F.cross_entropy(logits[-1], y), logits

    try:
        return train_loop(net, batches, schedule, step, device, on_epoch=on_epoch, on_step=on_step)
    finally:
        net.gates_enabled = True


def train_gated(net: nn.Module, batches: Any, schedule: Any, target: float, alpha: float, rule: str = "sign_switching",
                *, e_units: str = "block_equivalents", gates_only: bool = False, device: torch.device | None = None,
                on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                on_step: Callable[[int, dict[str, float]], None] | None = None) -> Any:
    """DFS Eq. 2, ``CE + alpha E``, with alpha's rule (``sign_switching`` towards ``target``, or ``constant``).
    ``gates_only``: step 1, the base's parameters and BN statistics frozen (``schedule.trainable`` should be the
    gates). Each step's metrics (``on_step``) hold the batch cp and alpha's sign."""
    from trainers.training.loops import train_loop
    from trainers.training.resource_loss import alpha_rule, dfs_step

    device = device or next(net.parameters()).device
    net.to(device)
    net.gates_enabled = True
    if gates_only:
        net.freeze_base(True)
    cps: list[float] = []

    def each_step(step: int, metrics: dict[str, float]) -> None:
        cps.append(metrics["cp_batch"])
        if on_step is not None:
            on_step(step, metrics)

    def each_epoch(epoch: int, stats: dict[str, float]) -> None:
        stats["cp"] = math.fsum(cps) / len(cps)  # the epoch's mean batch cp, kept in the loop's log too
        cps.clear()
        if on_epoch is not None:
            on_epoch(epoch, stats)

    try:
        term = alpha_rule(rule, alpha, target)  # type: ignore[arg-type]
        return train_loop(net, batches, schedule, dfs_step(net, e_units), device,  # type: ignore[arg-type]
                          loss_terms=[term], on_epoch=each_epoch, on_step=each_step)
    finally:
        if gates_only:
            net.freeze_base(False)


def train_step1(net: nn.Module, batches: Any, schedule: Any, options: DfsOptions, **kwargs: Any) -> Any:
    """DFS step 1: the gates alone towards cp 100 % (base A frozen), sign-switching |alpha|, ``schedule`` as
    given (:func:`paper_schedule`)."""
    return train_gated(net, batches, paper_schedule(schedule, trainable=("gate",)), STEP1_TARGET,
                       options.step1_magnitude, "sign_switching", e_units=options.e_units, gates_only=True, **kwargs)


def train_step2(net: nn.Module, batches: Any, schedule: Any, options: DfsOptions, settings: Settings,
                **kwargs: Any) -> Any:
    """DFS step 2: base and gates jointly towards the settings' target cp with their |alpha| and rule, at
    ``options.step2_lr_scale`` times the schedule's rate (DFS Sec. 4: 0.01 after step 1's 0.1)."""
    target, _, alpha, rule = settings
    return train_gated(net, batches, paper_schedule(schedule, lr_scale=options.step2_lr_scale), target, float(alpha),
                       rule, e_units=options.e_units, **kwargs)


@dataclass(frozen=True)
class GatedSummary:
    """One hard-decision pass of a trained DFS network over a split (DFS Sec. 3.4)."""

    accuracy: float
    expected_bops: float
    cp: float
    cp_network: float
    skip_share: float
    gate_bops: float
    base_bops: float
    counts: list[list[int]]
    """``(U, O)`` samples per option per gated block (DFS Figs. 8-10)."""
    options: tuple[str, ...]
    blocks: tuple[str, ...]
    correct: list[bool]

    def shares(self) -> dict[str, dict[str, float]]:
        return {block: {o: row[k] / max(1, sum(row)) for k, o in enumerate(self.options)}
                for block, row in zip(self.blocks, self.counts, strict=True)}


def summarize(net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> GatedSummary:
    """Accuracy, mean per-sample BOPs, actual cp (mean of each sample's cp from its hard decisions), whole-network
    cp (BOPs over the full-precision base's), skip share and decision counts of ``net`` on the split."""
    net.eval()
    costs, cps, correct, chosen = [], [], [], []
    with torch.inference_mode():
        for i in range(0, len(inputs), batch_size):
            record = net(inputs[i:i + batch_size])
            costs.append(record.cost[-1].double())
            cps.append(net.compute_percentage(record).double())
            correct.append(record.logits[-1].argmax(-1) == labels[i:i + batch_size])
            chosen.append(record.decisions["options"])
    options = torch.cat(chosen)
    counts = net.decision_counts(options)
    skip = net.options.index(SKIP) if SKIP in net.options else None
    table = net.table
    gate_bops = math.fsum(v for k, v in table.fixed_bops.items() if k.endswith(".gate"))
    base = net.base_bops()
    expected = float(torch.cat(costs).mean())
    hits = torch.cat(correct)
    return GatedSummary(
        accuracy=float(hits.double().mean()), expected_bops=expected, cp=float(torch.cat(cps).mean()),
        cp_network=(expected - gate_bops) / base,
        skip_share=float((options == skip).double().mean()) if skip is not None else 0.0, gate_bops=gate_bops,
        base_bops=base, counts=counts.tolist(), options=tuple(net.options), blocks=tuple(net.gated_blocks),
        correct=hits.tolist())


@dataclass(frozen=True)
class GatedEvaluation(ConfigEvaluation):
    """A DFS evaluation: the canonical fields (one exit) plus the actual cp on the split, the whole network's cp,
    the trial's target, the skipped share of gated block executions and the gates' BOPs per sample."""

    cp: float = math.nan
    cp_network: float = math.nan
    target_cp: float = math.nan
    skip_share: float = math.nan
    gate_bops: float = math.nan


class GatedEvaluator:
    """Scores DFS trials on one split. The network it is given holds step 1 (base A and gates towards cp 100 %,
    shared by every trial); a trial's train-phase values (target cp, option list, |alpha|, rule) pick a step 2
    trained here from that step 1 with ``trial_training`` (seeded, so the same values give the same network; an
    option list other than the space's own first trains its own step 1 from the same base), scored once by one
    hard-decision pass and kept for the trials that follow (the last ``cache_size`` settings)."""

    def __init__(self, space: SearchSpace, net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1024, device: torch.device | None = None, trial_training: Any = None,
                 cache_size: int = 8) -> None:
        self.space = space
        self.options = dfs_options(space)
        self.device = device or torch.device("cpu")
        self.step1 = net.to(self.device)
        self.inputs, self.labels = inputs.to(self.device), labels.to(self.device)
        self.batch_size = batch_size
        self.trial_training = trial_training
        self.cache_size = cache_size
        self._summaries: OrderedDict[Settings, GatedSummary] = OrderedDict()
        self.trained_for_trials = 0

    def settings(self, config: Mapping[str, Any] | None, budget: Budget) -> Settings:
        """The trial's ``(target, options, |alpha|, rule)``: its train-phase knobs, the space's own otherwise."""
        target = budget.target_compute if budget.target_compute is not None else self.space.budget.target_compute
        values = dict(zip(("options", "alpha", "alpha_rule"), own_settings(self.options, target or 1.0)[1:],
                          strict=True))
        for label in self.space.train_labels if config is not None else ():
            if label.startswith("gating."):
                values[label.split(".", 1)[1]] = str(config[label])  # type: ignore[index]
        return float(target or 1.0), values["options"], values["alpha"], values["alpha_rule"]

    def network(self, settings: Settings) -> nn.Module:
        """Step 2 of ``settings`` trained from the shared step 1 (module doc)."""
        from trainers.data import make_loader

        if self.trial_training is None:
            raise ValueError("a DFS trial trains its step 2, and this evaluator has no trial training inputs")
        training = self.trial_training
        options = parse_option_list(settings[1])
        torch.manual_seed(training.seed)
        if options == tuple(self.step1.options):
            net = copy.deepcopy(self.step1)
        else:
            net = build_fractional_network(self.space, options).to(self.device)
            net.load_base_state(self.step1.state_dict())
            train_step1(net, make_loader(training.train_data, training.schedule.batch_size, shuffle=True,
                                         seed=training.seed), training.schedule, self.options, device=self.device)
        train_step2(net, make_loader(training.train_data, training.schedule.batch_size, shuffle=True,
                                     seed=training.seed + 1), training.schedule, self.options, settings,
                    device=self.device)
        self.trained_for_trials += 1
        return net.eval()

    def summary(self, settings: Settings) -> GatedSummary:
        if settings in self._summaries:
            self._summaries.move_to_end(settings)
            return self._summaries[settings]
        result = summarize(self.network(settings), self.inputs, self.labels, self.batch_size)
        self._summaries[settings] = result
        while len(self._summaries) > self.cache_size:
            self._summaries.popitem(last=False)
        return result

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.step1.load_state_dict(state)
        self._summaries.clear()

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None) -> GatedEvaluation:
        """Accuracy and mean per-sample BOPs of the trial's step-2 network, rewarded by the budget's reward."""
        config = self.space.validate(config)
        budget = self.space.budget_for(config, budget or self.space.budget)
        settings = self.settings(config, budget)
        cached = settings in self._summaries
        s = self.summary(settings)
        reward = _reward_of(budget)(s.accuracy, s.expected_bops)
        return GatedEvaluation(
            reward=reward, ee_accuracy=s.accuracy, expected_bops=s.expected_bops, inference_bops=s.expected_bops,
            failure_bops=0.0, static_bops=s.base_bops, exit_rates=(1.0,), per_exit_accuracy=(s.accuracy,),
            threshold=None, cached_forward=cached, cp=s.cp, cp_network=s.cp_network, target_cp=settings[0],
            skip_share=s.skip_share, gate_bops=s.gate_bops)


class DfsNetworks(MethodNetworks):
    name = "dfs"

    def build(self, space: SearchSpace) -> nn.Module:
        return build_fractional_network(space)

    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None, trial_training: Any = None) -> GatedEvaluator:
        """``network`` holds step 1; ``calibration_inputs`` are not used (one shared BN, trained in step 2)."""
        return GatedEvaluator(space, network, inputs, labels, batch_size, device, trial_training)


DFS_NETWORKS = register_method_networks(DfsNetworks())
