"""DDI's dual dynamic network (DDI Sec. 3): MGL2S input-adaptive skipping (IADI, Eq. 1-3) plus RADI early-exit
branches, built from ``spaces.backbones.Backbone`` data (a CIFAR ResNet; any stem / basic / head backbone works).

- Every basic block with an identity shortcut is gated (the cost table's default units,
  :func:`~spaces.cost.option_costs.ddi_cost_table`): an :class:`~trainers.networks.mgl2s_block.Mgl2sBlock` under
  a shared-LSTM layer gate (:class:`~trainers.networks.layer_gate.LayerGate`) and its own CNN channel gate
  (:class:`~trainers.networks.channel_gate.ChannelGate`), computed only where the layer gate is 1 (Eq. 3). The
  downsampling blocks (option-A shortcut: dimensions change), the stem and the head always run.
- ``layer_gate=False`` is the channel-only ablation (Eq. 2), ``channel_gate=False`` the layer-only one (Eq. 1,
  SkipNet-style); the cost table is built with the same switches, so their costs are priced exactly.
- RADI branches (Sec. 3.2, Fig. 4a): after blocks ``ceil(n/4)`` and ``ceil(3n/4)`` (1-indexed) of every stage of
  ``n`` blocks, :func:`branch_blocks` (six for three stages; Fig. 4's 8-block stage gives the 2nd and 6th). Each
  is an :class:`~trainers.networks.exit_heads.ExitHead` from an :class:`~spaces.backbones.ExitHeadSpec` (default
  ``sdn``: pool to 4 x 4, one FC; its FC grows with the stage's width, so "the classifiers' complexity" rises
  from the first to the last stage, the only thing Sec. 4.1 says of Fig. 4b, which our copy lacks).
- Full precision throughout (DDI does not quantize); costs are BOPs at W32A32 (MACs x 1024; FLOPs = 2 x MACs).

``forward(x)`` returns a :class:`~trainers.early_exit.ForwardRecord`: logits ``(E, N, C)`` (branches shallow to
deep, the main classifier last; ``E = 1`` while the branches are off, as in IADI training), per-sample cost
``(E, N)`` to each exit from the decisions and the cost table (gates included, the branch's own head included,
earlier branches' heads in ``ic_cost``), ``expected_cost`` ``(N,)`` the differentiable total (Eq. 5's E) and
``decisions``: ``options`` ``(N, U)`` (0 skip / 1 run; channel-only: all 0, its one option ``full``),
``fractions`` ``(N, U)`` the kept fraction the cost table priced (1 for a skipped block), ``layer_gates``
``(N, U)`` (0/1) and ``channel_keep`` ``(N, U)`` (``mean_j G^L G^C_j``: 0 for a skipped block).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn

from spaces.backbones import Backbone, ExitHeadSpec
from spaces.backbones.branch_positions import QUARTERS, BranchChoice, branch_blocks, quarter_positions
from spaces.cost.option_costs import FULL_PRECISION, OptionCostTable, ddi_cost_table, layers_bops
from trainers.early_exit.dynamic_cost import DynamicCost
from trainers.early_exit.forward_record import ForwardRecord
from trainers.networks.backbone_blocks import BLOCK_TYPES, ClassifierHead
from trainers.networks.channel_gate import ChannelGate
from trainers.networks.exit_heads import ExitHead
from trainers.networks.layer_gate import DEFAULT_INIT_STD, LayerGate
from trainers.networks.mgl2s_block import ChannelSite, Mgl2sBlock, full_precision_candidates

__all__ = ["BRANCH_PREFIX", "GATE_PREFIXES", "QUARTERS", "BranchChoice", "DualDynamicNetwork", "branch_blocks",
           "quarter_positions"]

GATE_PREFIXES: tuple[str, ...] = ("layer_gate", "channel_gates")
"""Module-name prefixes of the gate parameters (``TrainingSchedule.trainable`` for the gate warm-up)."""
BRANCH_PREFIX = "branches"
CLASSIFIER_W_BITS = 8  # unused at full precision; the heads' constructors want a value


def _key(name: str) -> str:
    return name.replace(".", "_")


class DualDynamicNetwork(nn.Module):
    """DDI over ``backbone`` (see the module docstring).

    - ``layer_gate`` / ``channel_gate``: MGL2S (both, default), layer-only or channel-only;
    - ``site``: where the channel mask acts, ``"output"`` (Eq. 2 literally, default) or ``"intermediate"``;
    - ``branches``: ``"quarters"`` (default), ``"none"`` or block names; ``exit_head`` their design;
    - ``gated``: the gated blocks (default: every basic block with an identity shortcut);
    - ``init_std`` / ``layer_bias_init`` / ``channel_bias_init``: the Gaussian gate initialisation.

    Switches, plain attributes settable between steps: ``gates_enabled`` (False: the plain base ResNet, no gate
    runs; base pre-training and the smaller-base baselines), ``branches_enabled`` (False: no branch runs, E = 1;
    IADI training) and ``sparse_inference`` (evaluation only runs the blocks a sample's layer gate opens; False
    runs them densely and masks, bit-identical up to float summation order).
    """

    def __init__(self, backbone: Backbone, *, layer_gate: bool = True, channel_gate: bool = True,
                 site: ChannelSite = "output", branches: BranchChoice = "quarters",
                 exit_head: ExitHeadSpec | None = None, gated: Sequence[str] | None = None,
                 init_std: float = DEFAULT_INIT_STD, layer_bias_init: float = 0.0,
                 channel_bias_init: float = 0.0) -> None:
        super().__init__()
        if not (layer_gate or channel_gate):
            raise ValueError("DDI needs the layer gate, the channel gate or both (use gates_enabled=False for the "
                             "plain base network)")
        self.backbone = backbone
        self.site: ChannelSite = site
        self.has_layer_gate, self.has_channel_gate = bool(layer_gate), bool(channel_gate)
        self.table: OptionCostTable = ddi_cost_table(backbone, gated, FULL_PRECISION, layer_gate, channel_gate,
                                                     site, FULL_PRECISION)
        self.cost = DynamicCost(self.table)
        self.gated_blocks: tuple[str, ...] = self.table.units
        self._unit_index = {name: u for u, name in enumerate(self.gated_blocks)}

        self.blocks = nn.ModuleList()
        self.block_names: list[str] = []
        head = None
        for block in backbone.blocks:
            if block.kind == "head":
                head = block
                continue
            if block.name in self._unit_index:
                module: nn.Module = Mgl2sBlock(block, site)
            elif block.kind in BLOCK_TYPES:
                module = BLOCK_TYPES[block.kind](block, full_precision_candidates, True)
            else:
                raise ValueError(f"block {block.name}: kind {block.kind!r} has no torch module")
            self.blocks.append(module)
            self.block_names.append(block.name)
        if head is None:
            raise ValueError(f"backbone {backbone.name} has no head block")
        self.head = ClassifierHead(head, CLASSIFIER_W_BITS, None, True)

        specs = {name: backbone.block(name) for name in self.gated_blocks}
        self.layer_gate: LayerGate | None = None
        if layer_gate:
            self.layer_gate = LayerGate.for_blocks(
                self.gated_blocks, [specs[name].main_path[0].in_channels for name in self.gated_blocks],
                init_std=init_std, bias_init=layer_bias_init)
        self.channel_gates = nn.ModuleDict()
        if channel_gate:
            for name in self.gated_blocks:
                block = self.blocks[self.block_names.index(name)]
                assert isinstance(block, Mgl2sBlock)
                conv1 = specs[name].main_path[0]
                self.channel_gates[_key(name)] = ChannelGate.for_block(
                    f"{name}.channel_gate", conv1.in_channels, conv1.in_size, block.gated_channels,
                    init_std=init_std, bias_init=channel_bias_init)

        self.exit_head = exit_head or ExitHeadSpec()
        self.branch_names: tuple[str, ...] = branch_blocks(backbone, branches)
        final_size = backbone.blocks[-2].out_size
        self.branches = nn.ModuleDict()
        bops: list[float] = []
        for name in self.branch_names:
            block = backbone.block(name)
            layers = self.exit_head.layers(f"exit.{name}", block.out_channels, block.out_size,
                                           backbone.num_classes, final_size)
            self.branches[_key(name)] = ExitHead(self.exit_head, layers, block.out_channels, FULL_PRECISION,
                                                 CLASSIFIER_W_BITS, None, True)
            bops.append(layers_bops(layers, FULL_PRECISION))
        self.branch_bops: tuple[float, ...] = tuple(bops)

        self.base_bops: float = layers_bops(backbone.layers, FULL_PRECISION)
        """BOPs of the plain base network (no gate, no branch): the denominator of DDI's relative cost."""
        running, through = 0.0, {}
        for block in backbone.blocks:
            running += layers_bops(block.layers, FULL_PRECISION)
            through[block.name] = running
        self._static_through = through
        self.gates_enabled = True
        self.branches_enabled = bool(self.branch_names)
        self._base_frozen = False

    # -- switches ---------------------------------------------------------------------------------------------
    @property
    def sparse_inference(self) -> bool:
        return all(block.sparse_inference for block in self._mgl2s_blocks())

    @sparse_inference.setter
    def sparse_inference(self, value: bool) -> None:
        for block in self._mgl2s_blocks():
            block.sparse_inference = bool(value)

    def _mgl2s_blocks(self) -> Iterator[Mgl2sBlock]:
        return (block for block in self.blocks if isinstance(block, Mgl2sBlock))

    @property
    def active_branches(self) -> tuple[str, ...]:
        """The branch blocks whose heads run in a forward pass (none while ``branches_enabled`` is False)."""
        return self.branch_names if self.branches_enabled else ()

    @property
    def num_exits(self) -> int:
        return len(self.active_branches) + 1

    # -- forward ----------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> ForwardRecord:
        """One pass: every active exit's logits and each sample's cost to it, priced from its decisions."""
        if not self.gates_enabled:
            return self._base_forward(x)
        branches = set(self.active_branches)
        outputs: list[torch.Tensor] = []
        gates: list[torch.Tensor] = []
        fractions: list[torch.Tensor] = []
        kept: list[torch.Tensor] = []
        state = None
        for name, block in zip(self.block_names, self.blocks, strict=True):
            if isinstance(block, Mgl2sBlock):
                g = None
                if self.layer_gate is not None:
                    step = self.layer_gate.step(self._unit_index[name], x, state)
                    g, state = step.gate, step.state
                gate_module = self.channel_gates[_key(name)] if self.has_channel_gate else None
                result = block(x, g, gate_module)  # type: ignore[arg-type]
                x = result.features
                gates.append(x.new_ones(x.shape[0]) if g is None else g)
                kept.append(result.kept)
                if result.cost_fraction is not None:
                    fractions.append(result.cost_fraction)
            else:
                x = block(x)
            if name in branches:
                outputs.append(self.branches[_key(name)](x))
        outputs.append(self.head(x))
        logits = torch.stack(outputs)
        layer_gates = torch.stack(gates, dim=1)
        decisions = torch.stack([1 - layer_gates, layer_gates], dim=-1) if self.has_layer_gate \
            else layer_gates.unsqueeze(-1)
        return ForwardRecord.from_decisions(
            logits, self.cost, decisions, exit_after=self.active_branches, ic_costs=self._active_branch_bops(),
            fractions=torch.stack(fractions, dim=1) if fractions else None,
            extra_decisions={"layer_gates": layer_gates.detach(), "channel_keep": torch.stack(kept, dim=1)})

    def _active_branch_bops(self) -> tuple[float, ...]:
        return self.branch_bops if self.branches_enabled else ()

    def _base_forward(self, x: torch.Tensor) -> ForwardRecord:
        """The plain base ResNet: every block, every channel, no gate; static costs (no gate overhead)."""
        branches = set(self.active_branches)
        outputs = []
        for name, block in zip(self.block_names, self.blocks, strict=True):
            x = block.residual_output(x) if isinstance(block, Mgl2sBlock) else block(x)
            if name in branches:
                outputs.append(self.branches[_key(name)](x))
        outputs.append(self.head(x))
        heads = self._active_branch_bops()
        to_classifier = [self._static_through[name] + cost for name, cost in zip(self.active_branches, heads,
                                                                                    strict=True)]
        ones = x.new_ones(x.shape[0], len(self.gated_blocks))
        return ForwardRecord.static(torch.stack(outputs), [*to_classifier, self.base_bops], heads,
                                    {"layer_gates": ones, "channel_keep": ones.clone()})

    # -- what a record says -----------------------------------------------------------------------------------
    @staticmethod
    def skip_ratio(record: ForwardRecord) -> float:
        """Fraction of (sample, gated block) pairs whose layer gate skipped the block."""
        gates = record.decisions["layer_gates"]
        return float(1.0 - gates.double().mean().item()) if gates.numel() else 0.0

    @staticmethod
    def channel_keep_ratio(record: ForwardRecord) -> float:
        """Fraction of the gated channels kept over the (sample, block) pairs that ran the block (1 without a
        channel gate; NaN if no block ran)."""
        gates = record.decisions["layer_gates"].double()
        ran = float(gates.sum().item())
        return float(record.decisions["channel_keep"].double().sum().item() / ran) if ran else math.nan

    def relative_cost(self, record: ForwardRecord) -> torch.Tensor:
        """``(N,)`` per-sample cost to the main classifier over :attr:`base_bops` (gates included, branch heads
        not), detached float64: DDI's "computational cost" against the base model."""
        return record.cost[-1] / self.base_bops

    def expected_relative_cost(self, record: ForwardRecord) -> torch.Tensor:
        """``(N,)`` :meth:`relative_cost` keeping the graph to the gates (Eq. 5's E, straight-through)."""
        if record.expected_cost is None:
            raise ValueError("the record has no differentiable cost (gates_enabled is False)")
        return record.expected_cost / self.base_bops

    # -- parameters -------------------------------------------------------------------------------------------
    def gate_prefixes(self) -> tuple[str, ...]:
        """Module-name prefixes of the gate parameters present (for ``TrainingSchedule.trainable``)."""
        return tuple(p for p in GATE_PREFIXES if any(n.startswith(p + ".") for n, _ in self.named_parameters()))

    def gate_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if n.split(".", 1)[0] in GATE_PREFIXES]

    def branch_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if n.split(".", 1)[0] == BRANCH_PREFIX]

    def base_parameters(self) -> list[nn.Parameter]:
        """The backbone's parameters W (stem, blocks, head): everything but the gates G and the branches."""
        return [p for n, p in self.named_parameters() if n.split(".", 1)[0] in ("blocks", "head")]

    def _base_modules(self) -> Iterator[nn.Module]:
        yield from self.blocks.modules()
        yield from self.head.modules()

    def freeze_base(self, frozen: bool = True) -> None:
        """DDI's gate warm-up (Sec. 4.1: "the base network is fixed and only the gating network is trained"):
        the base parameters stop requiring gradients and the base's batch norms stay in evaluation mode (their
        running statistics fixed) through ``train()``; ``frozen=False`` undoes both."""
        self._base_frozen = bool(frozen)
        for p in self.base_parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    @property
    def base_frozen(self) -> bool:
        return self._base_frozen

    def train(self, mode: bool = True) -> DualDynamicNetwork:
        super().train(mode)
        if mode and self._base_frozen:
            for module in self._base_modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def load_base_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load the base network's weights (keys ``blocks.*`` and ``head.*``, as a full-precision
        :class:`~trainers.networks.MultiExitNetwork` of the same backbone names them; other keys are ignored).
        Every base key must be present; gates and branches are left as they are."""
        own = self.state_dict()
        base = [k for k in own if k.split(".", 1)[0] in ("blocks", "head")]
        missing = [k for k in base if k not in state]
        if missing:
            raise KeyError(f"the base state lacks {len(missing)} keys, e.g. {missing[:3]}")
        own.update({k: state[k] for k in base})
        self.load_state_dict(own)

    def extra_repr(self) -> str:
        kind = "mgl2s" if self.has_layer_gate and self.has_channel_gate else (
            "layer-only" if self.has_layer_gate else "channel-only")
        return (f"backbone={self.backbone.name}, gates={kind}, site={self.site}, gated={len(self.gated_blocks)}, "
                f"branches={list(self.branch_names)}")
