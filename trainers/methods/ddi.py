"""DDI's torch side (paper 004): the dual dynamic network of a DDI space, its training (IADI, Sec. 3.3 and 4.1,
Eq. 5; RADI, Sec. 3.2, Eq. 4), and the evaluator that reads every exit's logits and each sample's spent compute
from one forward pass and scores entropy thresholds under a hard budget (Sec. 3.3) from them.

Training, as the paper describes it (its hyper-parameters are in a supplement we do not have):

1. the base network (no gate, no branch) from scratch with cross-entropy: the "pretrained base";
2. gate warm-up: the base frozen (weights and BN statistics), the gates trained with ``-|alpha| E`` until they run
   everything ("a skipping ratio of 0");
3. IADI: base and gates jointly with Eq. 5, ``alpha = +|alpha|`` while the batch's relative cost is above E_IADI
   and 0 once it is at or below it, decided every iteration (``BudgetThenZeroAlpha``; METHODS.md 4.7's reading
   of "alternating");
4. RADI: the branches switched on and the whole network trained with Eq. 4, ``L_o + sum_i w_i L_i``,
   ``w_i = C_o / C_i`` of the mini-batch. Choice: the IADI budget term stays on during RADI (the paper trains
   "end to end" and says nothing of the gates there; without it the gates drift back to running everything).

Schedules: the base with the job's pre-training schedule (``--pretrain-epochs`` / ``--pretrain-lr``), the
warm-up, IADI and RADI with its main schedule (``--supernet-epochs`` / ``--supernet-lr``; the warm-up and RADI
epochs from the space's ``gating.warmup_epochs`` / ``branches.epochs``). SGD with momentum 0.9 and weight decay
1e-4, cosine rate: METHODS.md 4.3's proposal (DFS/SkipNet's optimiser) without its 64k-iteration length.
"""

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
from spaces.cost.ddi_exit_costs import flops_of_bops
from spaces.methods.ddi import DdiOptions, target_compute
from trainers.early_exit import EarlyExitEvaluation
from trainers.evaluation import ConfigEvaluation
from trainers.evaluation.config_evaluator import _reward_of
from trainers.methods.method_networks import MethodNetworks, register_method_networks
from trainers.networks.dual_dynamic_network import DualDynamicNetwork

ENTROPY = "entropy"
"""DDI's exit rule: exit at branch i when H(p_i) / ln C <= T_i (the project's normalised entropy)."""


def ddi_options(space: SearchSpace) -> DdiOptions:
    if not isinstance(space.options, DdiOptions):
        raise ValueError(f"space {space.name!r} is not a DDI space (method {space.method!r})")
    return space.options


def build_ddi_network(space: SearchSpace, *, gates: str | None = None, backbone: Any = None) -> DualDynamicNetwork:
    """The :class:`DualDynamicNetwork` of ``space`` (``gates`` overrides ``gating.kind``: the Figs. 7-8
    ablations; ``backbone`` another backbone: the smaller base ResNets of Table 2, trained as plain bases)."""
    o = ddi_options(space)
    kind = gates or o.gates
    net_backbone = backbone or space.backbone
    branches: Any = o.branches if backbone is None else "none"
    return DualDynamicNetwork(net_backbone, layer_gate=kind in ("mgl2s", "layer"),
                              channel_gate=kind in ("mgl2s", "channel"), site=o.site,  # type: ignore[arg-type]
                              branches=branches, exit_head=o.head, init_std=o.init_std)


# -- the four stages -----------------------------------------------------------------------------------------------
StepLog = Callable[[int, dict[str, float]], None]


def _loop(net: DualDynamicNetwork, batches: Any, schedule: Any, step: Any, terms: list[Any],
          on_step: StepLog | None, on_epoch: Any = None) -> Any:
    from trainers.training.loops import train_loop

    device = next(net.parameters()).device
    return train_loop(net, batches, schedule, step, device, loss_terms=terms, on_step=on_step, on_epoch=on_epoch)


def train_base(net: DualDynamicNetwork, batches: Any, schedule: Any, *, on_step: StepLog | None = None,
               on_epoch: Any = None) -> Any:
    """Stage 1: the plain base network (``gates_enabled`` and ``branches_enabled`` off) with cross-entropy."""
    net.gates_enabled, net.branches_enabled = False, False

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x).logits
        return F.cross_entropy(logits[-1], y), logits

    try:
        return _loop(net, batches, schedule, step, [], on_step, on_epoch)
    finally:
        net.gates_enabled = True


def warm_up_gates(net: DualDynamicNetwork, batches: Any, schedule: Any, alpha: float, *,
                  on_step: StepLog | None = None) -> Any:
    """Stage 2 (Sec. 4.1): base frozen, gates only, ``CE - |alpha| E`` pushes every gate open (skip ratio 0)."""
    from trainers.training.ddi_losses import GateStatistics, ddi_step, warmup_term

    net.gates_enabled, net.branches_enabled = True, False
    net.freeze_base()
    try:
        return _loop(net, batches, dataclasses.replace(schedule, trainable=net.gate_prefixes()),
                     ddi_step(net, "iadi"), [warmup_term(alpha), GateStatistics()], on_step)
    finally:
        net.freeze_base(False)


def train_iadi(net: DualDynamicNetwork, batches: Any, schedule: Any, alpha: float, target: float, *,
               on_step: StepLog | None = None, on_epoch: Any = None) -> Any:
    """Stage 3, Eq. 5: base and gates jointly, ``CE + alpha E`` with alpha on above E_IADI = ``target``, else 0."""
    from trainers.training.ddi_losses import GateStatistics, ddi_step, iadi_term

    net.gates_enabled, net.branches_enabled = True, False
    return _loop(net, batches, schedule, ddi_step(net, "iadi"), [iadi_term(alpha, target), GateStatistics()],
                 on_step, on_epoch)


def train_radi(net: DualDynamicNetwork, batches: Any, schedule: Any, alpha: float, target: float, *,
               on_step: StepLog | None = None, on_epoch: Any = None) -> Any:
    """Stage 4, Eq. 4: branches on, ``L_o + sum_i (C_o / C_i) L_i`` with the IADI budget term kept."""
    from trainers.training.ddi_losses import GateStatistics, ddi_step, iadi_term, radi_term

    net.gates_enabled, net.branches_enabled = True, True
    return _loop(net, batches, schedule, ddi_step(net, "radi"),
                 [radi_term(), iadi_term(alpha, target), GateStatistics()], on_step, on_epoch)


def ddi_schedule(schedule: Any) -> Any:
    """``schedule``'s epochs, rate and batch in DDI's optimiser shape (METHODS.md 4.3's proposal: SGD, momentum
    0.9, weight decay 1e-4); the cosine rate of the frame instead of the unknown step milestones."""
    return dataclasses.replace(schedule, momentum=0.9, weight_decay=1e-4)


def train_ddi(net: DualDynamicNetwork, batches: Any, options: DdiOptions, base: Any, joint: Any, target: float, *,
              base_state: Mapping[str, torch.Tensor] | None = None, branches: bool = True,
              on_step: Callable[[str, int, dict[str, float]], None] | None = None,
              on_epoch: Callable[[str, int, dict[str, float]], None] | None = None
              ) -> dict[str, list[dict[str, float]]]:
    """Stages 1-4 on ``net`` (stage 1 skipped when ``base_state`` gives the pretrained base; stage 4 when
    ``branches`` is False: the IADI-only models of Figs. 7-8). Returns each stage's epoch logs."""
    logs: dict[str, list[dict[str, float]]] = {}

    def hooks(stage: str) -> dict[str, Any]:
        return {"on_step": None if on_step is None else (lambda i, m: on_step(stage, i, m)),
                "on_epoch": None if on_epoch is None else (lambda i, m: on_epoch(stage, i, m))}

    if base_state is None:
        logs["base"] = train_base(net, batches, ddi_schedule(base), **hooks("base")).epochs
    else:
        net.load_base_state(base_state)
    warm = dataclasses.replace(ddi_schedule(joint), epochs=options.warmup_epochs)
    logs["warmup"] = warm_up_gates(net, batches, warm, options.warmup_alpha, on_step=hooks("warmup")["on_step"]
                                   ).epochs
    logs["iadi"] = train_iadi(net, batches, ddi_schedule(joint), options.alpha, target, **hooks("iadi")).epochs
    if branches:
        radi = dataclasses.replace(ddi_schedule(joint), epochs=options.radi_epochs or joint.epochs)
        logs["radi"] = train_radi(net, batches, radi, options.alpha, target, **hooks("radi")).epochs
    net.branches_enabled = branches
    return logs


# -- one forward pass, every exit ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DdiForward:
    """One split through the network: ``logits`` ``(E, N, C)``; ``spent`` ``(E, N)`` the BOPs sample ``n`` has
    computed when it answers at exit ``e`` (ToClassifier(e) from its decisions, gates included, plus the heads of
    the branches it passed: what a hard per-sample cap limits); ``relative`` ``(N,)`` its main-exit cost over the
    base network's; ``skip_ratio`` and ``channel_keep_ratio`` of the split (the kept share of the gated channels
    of the blocks that ran; 0 when no gated block ran, so the metric stays finite)."""

    logits: torch.Tensor
    spent: torch.Tensor
    relative: torch.Tensor
    skip_ratio: float
    channel_keep_ratio: float
    base_bops: float


def spent_costs(cost: torch.Tensor, ic_cost: torch.Tensor) -> torch.Tensor:
    """``(E, N)``: ``cost[e] + sum_{j<e} ic_cost[j]`` (USDN Eq. 10's failure cost folded into what was spent)."""
    passed = torch.cat([torch.zeros_like(cost[:1]), ic_cost.cumsum(dim=0)], dim=0)
    return cost + passed


def forward_split(net: DualDynamicNetwork, inputs: torch.Tensor, batch_size: int = 1024) -> DdiForward:
    """:class:`DdiForward` of ``inputs`` (evaluation mode, inference mode, in batches)."""
    net.eval()
    logits, spent, relative, gates, kept = [], [], [], [], []
    with torch.inference_mode():
        for i in range(0, len(inputs), batch_size):
            record = net(inputs[i:i + batch_size])
            logits.append(record.logits.float())
            spent.append(spent_costs(record.cost, record.ic_cost))
            relative.append(record.cost[-1] / net.base_bops)
            gates.append(record.decisions["layer_gates"].double())
            kept.append(record.decisions["channel_keep"].double())
    layer, keep = torch.cat(gates), torch.cat(kept)
    ran = float(layer.sum())
    return DdiForward(torch.cat(logits, dim=1), torch.cat(spent, dim=1), torch.cat(relative),
                      float(1 - layer.mean()) if layer.numel() else 0.0,
                      float(keep.sum() / ran) if ran else 0.0, net.base_bops)


def early_exit_of(forward: DdiForward, labels: torch.Tensor) -> EarlyExitEvaluation:
    """The early-exit evaluation of a forward pass, priced by what each sample spent (so a cap on ``to_classifier``
    is a cap on everything computed; the failure cost is inside it and reads 0 separately)."""
    zeros = torch.zeros(forward.spent.shape[0] - 1, forward.spent.shape[1], dtype=torch.float64,
                        device=forward.spent.device)
    return EarlyExitEvaluation(forward.logits, labels, forward.spent, zeros)


def hard_budget_metrics(evaluation: EarlyExitEvaluation, thresholds: Any, budget_bops: float, mode: str) -> Any:
    """Entropy exits at ``thresholds`` with the hard per-sample cap at ``budget_bops`` (``mode="hard"``) or none
    (``"average"``: only the mean is held to the budget, by the reward)."""
    return evaluation.metrics(thresholds, rule=ENTROPY, cap=budget_bops if mode == "hard" else None)


def over_budget_share(evaluation: EarlyExitEvaluation, thresholds: Any, budget_bops: float, mode: str) -> float:
    """Share of samples whose spent compute at the exit they answer at exceeds ``budget_bops``."""
    exit_index = evaluation.assign(thresholds, ENTROPY, budget_bops if mode == "hard" else None)
    table = evaluation.cost if evaluation.cost is not None else torch.tensor(
        evaluation.to_classifier, dtype=torch.float64, device=exit_index.device).unsqueeze(1).expand(
        -1, exit_index.numel())
    spent = table.gather(0, exit_index.unsqueeze(0)).squeeze(0)
    return float((spent > budget_bops).double().mean())


@dataclass(frozen=True)
class DdiEvaluation(ConfigEvaluation):
    """A DDI evaluation: the canonical fields plus the gates' ratios on the split, the mean cost over the base
    network's, the expected FLOPs (2 x MACs) and the share of samples over the budget."""

    skip_ratio: float = math.nan
    channel_keep_ratio: float = math.nan
    relative_cost: float = math.nan
    expected_flops: float = math.nan
    over_budget: float = math.nan


class DdiEvaluator:
    """Scores entropy thresholds under the hard budget on one split: the network runs once per E_IADI
    (:func:`forward_split`), then every configuration (its thresholds: inference knobs) is read from the stored
    logits and spent costs; the reward is the budget's (``hard_budget``).

    Train-phase knob ``budget.target_compute``: a configuration with the space's own E_IADI is scored on ``net``;
    one with another value on a copy of ``net`` trained here with ``trial_training``'s schedule at that target
    (IADI then RADI, from the loaded network's base and gates: the pretrained base and the warm-up are shared;
    seeded, so the same value gives the same network), kept for the next configurations with that value (the
    last ``cache_size``)."""

    def __init__(self, space: SearchSpace, net: DualDynamicNetwork, inputs: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1024, device: torch.device | None = None, trial_training: Any = None,
                 cache_size: int = 4) -> None:
        self.space = space
        self.options = ddi_options(space)
        self.device = device or torch.device("cpu")
        self.net = net.to(self.device).eval()
        self.net.branches_enabled = True
        self.inputs, self.labels = inputs.to(self.device), labels.to(self.device)
        self.batch_size = batch_size
        self.trial_training = trial_training
        self.cache_size = cache_size
        self._own = repr(target_compute(space.budget))
        self._nets: OrderedDict[str, DualDynamicNetwork] = OrderedDict()
        self._evaluations: dict[str, tuple[DdiForward, EarlyExitEvaluation]] = {}
        self.trained_for_trials = 0

    def settings(self, config: Mapping[str, Any]) -> str:
        """The E_IADI text of ``config`` (the space's own where it does not search it)."""
        label = "budget.target_compute"
        return repr(float(config[label])) if label in config else self._own

    def network(self, settings: str | None = None) -> DualDynamicNetwork:
        settings = settings or self._own
        if settings == self._own:
            return self.net
        if settings in self._nets:
            self._nets.move_to_end(settings)
            return self._nets[settings]
        if self.trial_training is None:
            raise ValueError(f"E_IADI {settings} needs a network trained for it, and this evaluator has no trial "
                             "training inputs")
        from trainers.data import make_loader

        training = self.trial_training
        torch.manual_seed(training.seed)
        net = copy.deepcopy(self.net).to(self.device)
        loader = make_loader(training.train_data, training.schedule.batch_size, shuffle=True, seed=training.seed)
        schedule = ddi_schedule(training.schedule)
        train_iadi(net, loader, schedule, self.options.alpha, float(settings))
        radi = dataclasses.replace(schedule, epochs=self.options.radi_epochs or schedule.epochs)
        train_radi(net, loader, radi, self.options.alpha, float(settings))
        self.trained_for_trials += 1
        self._nets[settings] = net.eval()
        while len(self._nets) > self.cache_size:
            dropped, _ = self._nets.popitem(last=False)
            self._evaluations.pop(dropped, None)
        return net

    def early_exit(self, settings: str | None = None) -> tuple[DdiForward, EarlyExitEvaluation]:
        settings = settings or self._own
        if settings not in self._evaluations:
            forward = forward_split(self.network(settings), self.inputs, self.batch_size)
            self._evaluations[settings] = (forward, early_exit_of(forward, self.labels))
        return self._evaluations[settings]

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)
        self._evaluations.pop(self._own, None)

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None) -> DdiEvaluation:
        """Entropy exits at the config's thresholds under the hard budget, rewarded by the budget's reward."""
        config = self.space.validate(config)
        budget = self.space.budget_for(config, budget or self.space.budget)
        thresholds = self.space.exit_thresholds(config, budget)
        settings = self.settings(config)
        cached = settings in self._evaluations
        forward, evaluation = self.early_exit(settings)
        mode = self.options.budget_mode
        m = hard_budget_metrics(evaluation, thresholds, budget.target_bops, mode)
        reward = _reward_of(budget)(m.early_exit_accuracy, m.expected_bops) \
            if math.isfinite(m.early_exit_accuracy) else math.nan
        return DdiEvaluation(
            reward=reward, ee_accuracy=m.early_exit_accuracy, expected_bops=m.expected_bops,
            inference_bops=m.inference_bops, failure_bops=m.failure_bops, static_bops=evaluation.to_classifier[-1],
            exit_rates=tuple(m.exit_rates), per_exit_accuracy=tuple(m.per_exit_accuracy),
            threshold=None if isinstance(thresholds, tuple) else float(thresholds),
            exit_thresholds=thresholds if isinstance(thresholds, tuple) else (), cached_forward=cached,
            skip_ratio=forward.skip_ratio, channel_keep_ratio=forward.channel_keep_ratio,
            relative_cost=m.expected_bops / forward.base_bops, expected_flops=flops_of_bops(m.expected_bops),
            over_budget=over_budget_share(evaluation, thresholds, budget.target_bops, mode))


class DdiNetworks(MethodNetworks):
    name = "ddi"

    def build(self, space: SearchSpace) -> nn.Module:
        return build_ddi_network(space)

    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None, trial_training: Any = None) -> DdiEvaluator:
        """``calibration_inputs`` are not used: the BN statistics were trained with the gates."""
        assert isinstance(network, DualDynamicNetwork)
        return DdiEvaluator(space, network, inputs, labels, batch_size, device, trial_training)


DDI_NETWORKS = register_method_networks(DdiNetworks())
