"""DDI (paper 004): dual dynamic inference. IADI skips blocks and channels per input with MGL2S gates (a shared-LSTM
layer gate, then a CNN channel gate only where the block runs, Eq. 1-3) trained to a compute budget (Eq. 5); RADI
adds branch classifiers at about 1/4 and 3/4 of every stage (Eq. 4) and exits at branch ``i`` when the normalised
entropy of its softmax is at most ``T_i``, under a hard budget. Torch-free: the space file's ``gating:``,
``branches:``, ``inference:`` and ``report:`` sections, its knobs and the checks of its budget.

A DDI space has no ``bits:`` or ``exits:`` (DDI does not quantize: the network runs at W32A32 and costs are BOPs
at full precision, MACs x 1024; the paper's FLOPs are 2 x MACs). Its budget:

- ``target_bops`` is the hard budget B (BOPs per sample), with ``reward: hard_budget`` (the frame's reward:
  accuracy when the cost is within B, penalised beyond it). ``inference.budget_mode: hard`` (default) caps every
  sample at B (it answers at the deepest exit its spent compute allows, if no threshold fired first; METHODS.md
  4.4), ``average`` only asks the mean cost to stay within B.
- ``target_compute`` is E_IADI, the relative cost the gates are trained to (Eq. 5; default 0.5).

Knobs: ``thresholds`` (one normalised-entropy threshold per branch, ``exit{j}.threshold``; inference phase: scored
from one cached forward pass) or ``threshold`` (one for every branch), and ``target_compute`` (train phase: a
trial with another E_IADI trains its own network in the evaluator)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spaces.backbones import Backbone, ExitHeadSpec
from spaces.backbones.branch_positions import branch_blocks
from spaces.dimensions.knob import INFERENCE, TRAIN
from spaces.errors import SpaceError
from spaces.methods.method_spec import FIXED, MethodSpec, register_method
from spaces.methods.section_fields import choice, integer, positive, section

GATE_KINDS = ("mgl2s", "layer", "channel")
"""MGL2S (both gates, Eq. 3), layer-only (Eq. 1, SkipNet-style) and channel-only (Eq. 2): the Figs. 7-8 ablations."""
CHANNEL_SITES = ("output", "intermediate")
BUDGET_MODES = ("hard", "average")
HEAD_KINDS = ("sdn", "scale_aware")
DEFAULT_TARGET_COMPUTE = 0.5
"""E_IADI when ``budget.target_compute`` is absent: METHODS.md 4.6's D4 setting (IADI at 50 % compute)."""

_GATING_KEYS = {"kind", "channel_site", "alpha", "warmup_alpha", "warmup_epochs", "init_std"}
_BRANCH_KEYS = {"positions", "head", "pool_size", "epochs"}
_INFERENCE_KEYS = {"budget_mode"}
_REPORT_KEYS = {"baseline_depths", "ablation_targets", "knee_branch"}


@dataclass(frozen=True)
class DdiOptions:
    """``gating:``, ``branches:``, ``inference:`` and ``report:`` of a DDI space.

    - ``gates``: ``mgl2s`` | ``layer`` | ``channel``; ``site``: the channel mask on the block's output (Eq. 2
      literally, skipped channels pass F_{i-1} through) or on conv1's output (dynamic pruning).
    - ``alpha``: |alpha| of Eq. 5 on E = the batch's mean cost over the base network's (so E = 1 is the base);
      ``warmup_alpha``: |alpha| of the warm-up's ``-|alpha| E`` that opens every gate (skip ratio 0);
      ``warmup_epochs``: the warm-up's epochs (base frozen); ``init_std``: the gates' Gaussian initialisation.
      The paper's values are in a supplement we lack; these are this project's (METHODS.md 4.3/4.7).
    - ``branches``: block names the branches follow (default: quarters of every stage); ``head`` their design;
      ``radi_epochs``: RADI's epochs (``None``: as many as the IADI joint phase, ``--supernet-epochs``).
    - ``budget_mode``: ``hard`` (per-sample cap at B, default) or ``average`` (mean cost within B).
    - ``baseline_depths``: the smaller base ResNets of Table 2 (their 2 x MACs are the hard budgets of D2);
      ``ablation_targets``: the E_IADI values of the Figs. 7-8 gate ablations; ``knee_branch``: the branch
      (1-indexed) of the Fig. 10 exit-ratio curve.
    """

    gates: str = "mgl2s"
    site: str = "output"
    alpha: float = 4.0
    warmup_alpha: float = 0.5
    warmup_epochs: int = 1
    init_std: float = 0.1
    branches: tuple[str, ...] = ()
    head: ExitHeadSpec = ExitHeadSpec()
    radi_epochs: int | None = None
    budget_mode: str = "hard"
    baseline_depths: tuple[int, ...] = ()
    ablation_targets: tuple[float, ...] = (DEFAULT_TARGET_COMPUTE,)
    knee_branch: int = 5

    @property
    def num_exits(self) -> int:
        return len(self.branches) + 1

    @property
    def layer_gate(self) -> bool:
        return self.gates in ("mgl2s", "layer")

    @property
    def channel_gate(self) -> bool:
        return self.gates in ("mgl2s", "channel")


def _branches(raw: Any, backbone: Backbone, source: str) -> tuple[str, ...]:
    """``branches.positions``: ``quarters`` or a list of block names, each inside a stage (DDI Fig. 4a)."""
    field = "branches.positions"
    if isinstance(raw, str) and raw != "quarters":
        raise SpaceError(f"must be 'quarters' or a list of block names, got {raw!r}", field=field, source=source)
    if not isinstance(raw, str) and (not isinstance(raw, list) or not raw
                                     or not all(isinstance(n, str) for n in raw)):
        raise SpaceError(f"must be 'quarters' or a non-empty list of block names, got {raw!r}", field=field,
                         source=source)
    try:
        chosen = branch_blocks(backbone, raw)
    except ValueError as exc:
        raise SpaceError(str(exc), field=field, source=source) from None
    if not chosen:
        raise SpaceError("DDI needs at least one branch", field=field, source=source)
    return chosen


def parse_ddi_options(sections: Mapping[str, Any], backbone: Backbone, source: str) -> DdiOptions:
    """The four sections, each optional (defaults: MGL2S at the output site, quarter branches with ``sdn`` heads,
    a hard per-sample cap)."""
    gating = section(sections.get("gating"), "gating", _GATING_KEYS, source)
    branches = section(sections.get("branches"), "branches", _BRANCH_KEYS, source)
    inference = section(sections.get("inference"), "inference", _INFERENCE_KEYS, source)
    report = section(sections.get("report"), "report", _REPORT_KEYS, source)
    d = DdiOptions()
    positions = _branches(branches.get("positions", "quarters"), backbone, source)
    head_kind = choice(branches.get("head", "sdn"), HEAD_KINDS, "branches.head", source)
    head = ExitHeadSpec(head_kind, integer(branches.get("pool_size", 4), "branches.pool_size", source))
    radi = branches.get("epochs")
    depths_raw = report.get("baseline_depths", [])
    if not isinstance(depths_raw, list):
        raise SpaceError(f"must be a list of ResNet depths, got {depths_raw!r}", field="report.baseline_depths",
                         source=source)
    depths = []
    for depth in depths_raw:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise SpaceError(f"every depth must be a CIFAR ResNet depth 6n + 2 >= 8, got {depth!r}",
                             field="report.baseline_depths", source=source)
        depths.append(depth)
    targets_raw = report.get("ablation_targets", list(d.ablation_targets))
    if not isinstance(targets_raw, list) or not targets_raw:
        raise SpaceError(f"must be a non-empty list of fractions in (0, 1], got {targets_raw!r}",
                         field="report.ablation_targets", source=source)
    targets = []
    for t in targets_raw:
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise SpaceError(f"every value must be a number in (0, 1], got {t!r}", field="report.ablation_targets",
                             source=source)
        targets.append(float(t))
    knee = integer(report.get("knee_branch", min(d.knee_branch, len(positions))), "report.knee_branch", source)
    if knee > len(positions):
        raise SpaceError(f"must name one of the {len(positions)} branches (1..{len(positions)}), got {knee}",
                         field="report.knee_branch", source=source)
    return DdiOptions(
        gates=choice(gating.get("kind", d.gates), GATE_KINDS, "gating.kind", source),
        site=choice(gating.get("channel_site", d.site), CHANNEL_SITES, "gating.channel_site", source),
        alpha=positive(gating.get("alpha", d.alpha), "gating.alpha", source),
        warmup_alpha=positive(gating.get("warmup_alpha", d.warmup_alpha), "gating.warmup_alpha", source),
        warmup_epochs=integer(gating.get("warmup_epochs", d.warmup_epochs), "gating.warmup_epochs", source),
        init_std=positive(gating.get("init_std", d.init_std), "gating.init_std", source),
        branches=positions, head=head,
        radi_epochs=None if radi is None else integer(radi, "branches.epochs", source),
        budget_mode=choice(inference.get("budget_mode", d.budget_mode), BUDGET_MODES, "inference.budget_mode",
                            source),
        baseline_depths=tuple(sorted(set(depths))), ablation_targets=tuple(sorted(set(targets))), knee_branch=knee,
    )


def target_compute(budget: Any) -> float:
    """E_IADI of a budget: its ``target_compute``, else :data:`DEFAULT_TARGET_COMPUTE`."""
    value = getattr(budget, "target_compute", None)
    return DEFAULT_TARGET_COMPUTE if value is None else float(value)


def check_ddi_space(space: Any) -> None:
    """Across sections: the reward is the hard-budget one, and the hard budget B (``budget.target_bops``) is at
    least the cheapest answer the network has (its first exit with every gated block skipped); the smaller
    baselines are smaller than the space's own network."""
    from spaces.cost.ddi_exit_costs import ddi_exit_costs, flops_of_bops

    o: DdiOptions = space.options
    source = space.source or None
    if space.budget.reward != "hard_budget":
        raise SpaceError(f"DDI scores under a hard budget: must be hard_budget, got {space.budget.reward!r}",
                         field="budget.reward", source=source)
    costs = ddi_exit_costs(space.backbone, o.branches, o.head, layer_gate=o.layer_gate, channel_gate=o.channel_gate,
                           site=o.site)
    if space.budget.target_bops < costs.cheapest:
        bops = space.budget.target_bops
        raise SpaceError(f"hard budget {bops:.4g} BOPs ({flops_of_bops(bops):.4g} FLOPs) is below the cheapest "
                         f"exit, {costs.cheapest:.4g} BOPs (branch after "
                         f"{o.branches[0]} with every gated block skipped)", field="budget.target_bops",
                         source=source)
    own = sum(len(names) for names in space.backbone.groups.values()) * 2 + 2
    big = [d for d in o.baseline_depths if d >= own]
    if big:
        raise SpaceError(f"baselines must be smaller than the space's ResNet-{own}, got {big}",
                         field="report.baseline_depths", source=source)


DDI = register_method(MethodSpec(
    name="ddi",
    summary="DDI: MGL2S layer + channel skipping gates (Eq. 1-3, 5), branch exits at 1/4 and 3/4 of every stage "
            "(Eq. 4), entropy thresholds under a hard budget",
    knobs=(("threshold", INFERENCE), ("thresholds", INFERENCE), ("target_compute", TRAIN)),
    metrics=("accuracy_exit{exit}", "skip_ratio", "channel_keep_ratio", "relative_cost", "expected_flops",
             "over_budget", "cached_forward"),
    layout=FIXED,
    sections=("gating", "branches", "inference", "report"),
    parse_options=parse_ddi_options,
    check_space=check_ddi_space,
))
"""Its knobs: the entropy thresholds (inference phase) and E_IADI (``target_compute``, train phase). Its extra
metrics: each exit's accuracy on every sample, the layer skip ratio and channel keep ratio of the split, the mean
cost over the base network's, the expected FLOPs (2 x MACs), the share of samples whose spent compute exceeds B
(0 under the cap unless B is below a sample's first exit), whether the forward pass was cached."""
