"""DFS's network: per input and per gated residual block, one option of an option list (DFS Sec. 3, Eq. 1).

Built from :class:`~spaces.backbones.Backbone` data (CIFAR ResNets: stem, basic blocks, head) and priced by the
torch-free cost model's :func:`~spaces.cost.option_costs.dfs_cost_table`, so the network and the cost model cannot
disagree. Each gated block chooses, per sample, one of ``options`` (default skip / W8A8 / W16A16 / full; SkipNet's
``("skip", "full")``, ``("skip", 4, 8, "full")`` or any list with a non-skip option). All options of a block share
one weight tensor per conv, quantized on the fly (:class:`~trainers.networks.shared_quant_conv.SharedQuantConvBN`).

DFS Eq. 1, ``F_i = sum_{k>=1} G_i^k C_i^{b_k}(F_{i-1}) + G_i^0 F_{i-1}``, with ``G_i`` the gate's decision: a
straight-through one-hot in training (so the forward value is exactly the chosen option's output and the gradient
reaches the gate through every option's output), a hard one-hot at inference
(:mod:`~trainers.networks.recurrent_gate`).

``forward(x)`` returns a :class:`~trainers.early_exit.forward_record.ForwardRecord`: ``logits`` ``(1, N, C)``,
``cost`` ``(1, N)`` each sample's BOPs (``DynamicCost`` of the table times its decisions: stem, first block,
head, gates and the chosen options), ``decisions["options"]`` ``(N, U)`` option indices, ``decisions["weights"]``
``(N, U, O)`` the straight-through one-hot weights (they keep the graph: DFS Eq. 2's E is computed from them),
``decisions["probs"]`` the gates' softmax (detached) and a differentiable ``expected_cost`` ``(N,)``.

Choices where the paper is silent (the DFS code's where it has one, METHODS.md 3.7):
- the first body block always runs at full precision (DFS Sec. 4, after SkipNet) and so does every body block
  left out of ``gated``; gating the first body block is refused. The stem and the FC run at full precision.
  ``fixed_bits`` (not DFS: the combined preset of issue 18) runs these ungated pieces at k bits instead once the
  gates are on: the stem's weights only (it reads the image as it comes; USDN prices it W8A8), the ungated blocks'
  convs and the FC's weights and input, each priced at ``fixed_bits`` by the cost table;
- the residual (identity or option-A pad shortcut) stays full precision: only the block's two convs are
  quantized, at the option's bits for weights and input activations (DFS code). An option-B (``conv``)
  shortcut runs at full precision whatever the option, so a skipped downsampling block outputs
  ``shortcut(F_{i-1})`` (the DFS code; the cost table's fixed ``"{block}.shortcut"`` piece);
- a skip outputs ``shortcut(F_{i-1})`` with no ReLU (``F_{i-1}`` already is post-ReLU; option A pads zeros);
- training evaluates every non-skip option on the whole batch and mixes them with the straight-through one-hot
  (as the DFS code: about (options - 1) times a block's compute); BatchNorm statistics are then those of every
  option, one shared BN (the DFS code's too; recalibrate BN on the hard decisions if that matters);
- at inference (``eval()`` with ``grouped_inference``, the default) each block runs only the options its samples
  chose: samples are grouped by their option, each group runs once, and the outputs are scattered back. In eval
  mode BN and the min-max ranges are per-sample, so this equals the dense mix up to float rounding;
- the gates' BOPs are priced at ``gate_bits`` (FP) from the very specs the gate is built from and counted in the
  per-sample cost (``count_gates``); DFS's cp leaves them out (fixed pieces), as the paper does (0.04 %).

The pretrained model A of DFS Sec. 4 is this network with ``gates_enabled = False`` (every block at full
precision, no gate: the plain ResNet; a static record), or a full-precision
:class:`~trainers.networks.MultiExitNetwork` of the same backbone, loaded with :meth:`load_base_state`
(:func:`multi_exit_base_state` renames its keys). The base's parameter names do not depend on the option list, so
one base serves DFS, SkipNet-style and any other option list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import Backbone, BlockSpec, LayerSpec
from spaces.cost.option_costs import (
    FULL,
    FULL_PRECISION,
    GATE_HIDDEN,
    GATE_WIDTH,
    SKIP,
    OptionCostTable,
    OptionLike,
    dfs_cost_table,
    layers_bops,
    option_bits,
    option_name,
)
from spaces.dimensions import BitWidth
from trainers.early_exit.dynamic_cost import DynamicCost
from trainers.early_exit.forward_record import ForwardRecord
from trainers.networks.recurrent_gate import ProjectionKind, RecurrentGate
from trainers.networks.shared_quant_conv import (
    QuantizerKind,
    SharedQuantConvBN,
    activation_quantizer,
    quantize_input,
    quantize_weight,
    split_bits,
)

DEFAULT_OPTIONS: tuple[OptionLike, ...] = (SKIP, 8, 16, FULL)
GATE_PREFIX = "gate"
"""Module name of the gates: ``TrainingSchedule(trainable=("gate",))`` trains only them (DFS step 1)."""


def check_options(options: Sequence[OptionLike]) -> tuple[str, ...]:
    """Canonical option names (``option_name``), distinct, with at least one non-skip option; ValueError else."""
    names = tuple(option_name(o) for o in options)
    if len(set(names)) != len(names):
        raise ValueError(f"options repeat: {list(names)}")
    if all(name == SKIP for name in names):
        raise ValueError(f"the option list needs a non-skip option, got {list(names)}")
    return names


def decision_counts(options: torch.Tensor, num_options: int) -> torch.Tensor:
    """``(U, O)`` counts of each option per gated block from ``(N, U)`` option indices (sum them over batches)."""
    if options.dim() != 2:
        raise ValueError(f"option indices must be (N, U), got shape {tuple(options.shape)}")
    return F.one_hot(options.long(), num_options).sum(dim=0)


class FractionalBlock(nn.Module):
    """A basic block whose convs share one weight tensor over the options: ``C_i^b`` of DFS Eq. 1.

    ``forward(x)`` runs the block at full precision (the first block); ``forward(x, weights)`` with ``(N, O)``
    one-hot weights over ``options`` mixes the options' outputs per sample (or, ``grouped``, runs each sample's
    chosen option only).
    """

    def __init__(self, spec: BlockSpec, options: Sequence[str] = (FULL,), quantizer: QuantizerKind = "minmax",
                 momentum: float = 0.1) -> None:
        super().__init__()
        if spec.kind != "basic":
            raise ValueError(f"block {spec.name}: fractional skipping needs basic (residual) blocks, "
                             f"got {spec.kind!r}")
        conv1, conv2 = spec.main_path
        self.spec = spec
        self.options = tuple(options)
        self.bits: tuple[BitWidth | None, ...] = tuple(option_bits(o) for o in self.options)
        self.conv1 = SharedQuantConvBN(conv1, quantizer, momentum)
        self.conv2 = SharedQuantConvBN(conv2, quantizer, momentum)
        self.shortcut_kind = spec.shortcut
        self.stride = conv1.stride
        self.extra_channels = conv2.out_channels - conv1.in_channels
        self.downsample: SharedQuantConvBN | None = None
        if spec.shortcut == "conv":
            down = next(layer for layer in spec.layers if layer.role == "shortcut")
            self.downsample = SharedQuantConvBN(down, quantizer, momentum)

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The residual path at full precision: identity, option A (subsample, zero channels) or a 1x1 conv-BN."""
        if self.downsample is not None:
            return self.downsample(x, None)
        if self.shortcut_kind == "pad":
            x = x[:, :, :: self.stride, :: self.stride]
            half = self.extra_channels // 2
            return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def run(self, x: torch.Tensor, bits: BitWidth | None = None) -> torch.Tensor:
        """The block executed at ``bits`` (None or ``W32A32``: full precision): ``ReLU(main(x) + shortcut(x))``."""
        out = self.conv2(F.relu(self.conv1(x, bits)), bits)
        return F.relu(out + self.shortcut(x))

    def option(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """The output under option ``index``: ``shortcut(x)`` for skip, else :meth:`run` at its bits."""
        bits = self.bits[index]
        return self.shortcut(x) if bits is None else self.run(x, bits)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None, grouped: bool = False,
                bits: BitWidth | None = None) -> torch.Tensor:
        """Without ``weights``, the block at ``bits`` (default full precision: an ungated block); else
        ``sum_k weights[:, k] * option_k(x)`` (DFS Eq. 1)."""
        if weights is None:
            return self.run(x, bits)
        if tuple(weights.shape) != (x.shape[0], len(self.options)):
            raise ValueError(f"block {self.spec.name}: weights have shape {tuple(weights.shape)}, expected "
                             f"({x.shape[0]}, {len(self.options)})")
        if grouped:
            return self._grouped(x, weights)
        out: torch.Tensor | None = None
        for k in range(len(self.options)):
            term = weights[:, k].to(x.dtype).reshape(-1, 1, 1, 1) * self.option(x, k)
            out = term if out is None else out + term
        assert out is not None
        return out

    def _grouped(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Each sample's chosen option only (argmax of ``weights``), one run per option that has samples."""
        chosen = weights.detach().argmax(dim=-1)
        out: torch.Tensor | None = None
        for k in torch.unique(chosen).tolist():
            index = (chosen == k).nonzero().flatten()
            part = weights[index, k].to(x.dtype).reshape(-1, 1, 1, 1) * self.option(x.index_select(0, index), k)
            if out is None:
                out = part.new_zeros((x.shape[0], *part.shape[1:]))
            out = out.index_copy(0, index, part)
        assert out is not None
        return out

    def extra_repr(self) -> str:
        return f"{self.spec.name}, options={list(self.options)}"


class _Stem(nn.Module):
    def __init__(self, spec: BlockSpec, quantizer: QuantizerKind = "minmax") -> None:
        super().__init__()
        self.conv = SharedQuantConvBN(spec.layers[0], quantizer)
        self.pool: nn.Module = nn.MaxPool2d(3, spec.pool_stride, 1) if spec.pool_stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor, bits: BitWidth | None = None) -> torch.Tensor:
        """At ``bits`` only the weights are quantized: the stem reads the image as it comes (USDN's stem reads the
        uint8 image, priced W8A8 by the cost model)."""
        weight_only = None if bits is None else BitWidth(bits.w, FULL_PRECISION.a)
        return self.pool(F.relu(self.conv(x, weight_only)))


class _Head(nn.Module):
    """Global pooling and the FC; with ``quantizer``, the FC can run at ``bits``: its weights and its input
    quantized as a :class:`SharedQuantConvBN`'s are (``act_quant``, absent from a full-precision head so that DFS's
    saved states keep their keys)."""

    def __init__(self, spec: LayerSpec, quantizer: QuantizerKind | None = None, momentum: float = 0.1) -> None:
        super().__init__()
        self.fc = nn.Linear(spec.in_channels, spec.out_channels)
        self.quantizer = quantizer
        if quantizer is not None:
            self.act_quant = activation_quantizer(quantizer, momentum)

    def forward(self, x: torch.Tensor, bits: BitWidth | None = None) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        w_bits, a_bits = split_bits(bits)
        if w_bits is None and a_bits is None:
            return self.fc(x)
        if self.quantizer is None:
            raise ValueError("this head was built at full precision only")
        return F.linear(quantize_input(x, a_bits, self.act_quant), quantize_weight(self.fc.weight, w_bits,
                                                                                   self.quantizer), self.fc.bias)


def with_gate_pieces(table: OptionCostTable, gate: RecurrentGate, bits: BitWidth = FULL_PRECISION
                     ) -> OptionCostTable:
    """``table`` plus each gated block's gate step as a fixed piece ``"{block}.gate"`` just before the block,
    priced from the gate's own specs at ``bits`` (the layout of ``dfs_cost_table(..., gates=True)``)."""
    if len(table.units) != gate.num_blocks:
        raise ValueError(f"the table gates {len(table.units)} blocks, the gate {gate.num_blocks}")
    fixed = dict(table.fixed_bops)
    order: list[str] = []
    pieces = dict(zip(table.units, gate.specs, strict=True))
    for name in table.order:
        if name in pieces:
            fixed[f"{name}.gate"] = layers_bops(pieces[name], bits)
            order.append(f"{name}.gate")
        order.append(name)
    return OptionCostTable(table.units, table.options, table.bops, fixed, tuple(order), table.scaled_bops,
                          table.full_bops)


_MULTI_EXIT_KEY = re.compile(r"^blocks\.(\d+)\.(.+)$")
BASE_PREFIXES = ("stem.", "blocks.", "head.")


def multi_exit_base_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A full-precision :class:`~trainers.networks.MultiExitNetwork`'s state (single candidate per layer: the
    pre-training network) renamed to :class:`FractionalSkipNetwork`'s base keys: ``blocks.0`` (the stem) to
    ``stem``, ``blocks.i`` to ``blocks.{i-1}``, ``convs.0`` / ``bns.0`` to ``conv`` / ``bn``, ``head.fc.linear`` to
    ``head.fc``. Exit heads and PACT clipping levels are dropped (DFS's FP base has neither)."""
    result: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if ".act_quant." in key:
            continue
        if key.startswith("head.fc.linear."):
            result["head.fc." + key.removeprefix("head.fc.linear.")] = value
            continue
        match = _MULTI_EXIT_KEY.match(key)
        if match is None:
            continue
        index, rest = int(match.group(1)), match.group(2).replace("convs.0.", "conv.").replace("bns.0.", "bn.")
        if re.search(r"(^|\.)(convs|bns)\.\d", rest):
            raise ValueError(f"{key}: a supernet with several candidates per layer is not a full-precision base")
        result[f"stem.{rest}" if index == 0 else f"blocks.{index - 1}.{rest}"] = value
    return result


class FractionalSkipNetwork(nn.Module):
    """A DFS network over ``backbone`` (see the module docstring for the contract and the choices).

    - ``options``: the option list (``"skip"``, bits ``k`` for ``WkAk``, ``"W4A8"``, ``"full"``), order = the
      gate's output order;
    - ``gated``: the gated blocks (default: every body block but the first, DFS Sec. 4);
    - ``quantizer``: ``"minmax"`` (default) or ``"dorefa_pact"``; ``momentum`` the min-max running range's;
    - ``gate_width`` / ``gate_hidden`` / ``projection``: the recurrent gate's 1x1-conv width, LSTM hidden size
      (DFS: 10 and 10) and per-block or per-stage projection;
    - ``count_gates``: price the gates (at ``gate_bits``) in the per-sample cost (never in cp);
    - ``grouped_inference``: in ``eval()``, compute only the chosen options (a plain attribute);
    - ``gates_enabled``: False runs the plain full-precision base (model A of DFS Sec. 4, a plain attribute).
    """

    def __init__(self, backbone: Backbone, options: Sequence[OptionLike] = DEFAULT_OPTIONS,
                 gated: Sequence[str] | None = None, *, quantizer: QuantizerKind = "minmax", momentum: float = 0.1,
                 gate_width: int = GATE_WIDTH, gate_hidden: int = GATE_HIDDEN,
                 projection: ProjectionKind = "per_block", count_gates: bool = True,
                 gate_bits: BitWidth = FULL_PRECISION, grouped_inference: bool = True,
                 fixed_bits: OptionLike = FULL) -> None:
        super().__init__()
        self.backbone = backbone
        fixed = option_bits(fixed_bits)
        if fixed is None:
            raise ValueError("fixed_bits cannot be skip: the stem, the first block and the FC always run")
        self.fixed_bits: BitWidth | None = None if fixed == FULL_PRECISION else fixed
        self.options = check_options(options)
        body = [block for block in backbone.blocks if block.kind not in ("stem", "head")]
        if not body:
            raise ValueError(f"backbone {backbone.name} has no body blocks")
        if gated is not None and body[0].name in set(gated):
            raise ValueError(f"the first body block {body[0].name!r} always runs at full precision (DFS Sec. 4); "
                             "it cannot be gated")
        base_table = dfs_cost_table(backbone, self.options, gated, fixed_bits=fixed)
        self.gated_blocks: tuple[str, ...] = base_table.units
        if not self.gated_blocks:
            raise ValueError(f"backbone {backbone.name} has no block to gate")
        gated_set = set(self.gated_blocks)
        self.block_names: list[str] = []
        self.blocks = nn.ModuleList()
        head: BlockSpec | None = None
        stem: BlockSpec | None = None
        gate_inputs: list[int] = []
        for block in backbone.blocks:
            if block.kind == "stem":
                stem = block
            elif block.kind == "head":
                head = block
            else:
                opts = self.options if block.name in gated_set else (FULL,)
                self.blocks.append(FractionalBlock(block, opts, quantizer, momentum))
                self.block_names.append(block.name)
                if block.name in gated_set:
                    gate_inputs.append(block.main_path[0].in_channels)
        if stem is None or head is None:
            raise ValueError(f"backbone {backbone.name} needs a stem and a head block")
        self.stem = _Stem(stem, quantizer if self.fixed_bits is not None else "minmax")  # DFS: an FP stem
        self.head = _Head(head.layers[0], None if self.fixed_bits is None else quantizer, momentum)
        self._gated_flags = [name in gated_set for name in self.block_names]
        self.gate = RecurrentGate.for_blocks(self.gated_blocks, gate_inputs, len(self.options), gate_width,
                                             gate_hidden, projection)
        self.table = with_gate_pieces(base_table, self.gate, gate_bits) if count_gates else base_table
        self.cost = DynamicCost(self.table)
        self.grouped_inference = grouped_inference
        self.gates_enabled = True
        self._freeze_statistics = False

    # -- forward ---------------------------------------------------------------------------------------------------
    @property
    def num_options(self) -> int:
        return len(self.options)

    def forward(self, x: torch.Tensor) -> ForwardRecord:
        """One pass: logits ``(1, N, C)`` and the per-sample cost record of the decisions taken (module doc).
        Without gates (``gates_enabled = False``) a static record of the FP base (:meth:`base_bops`)."""
        x = self.stem(x, self.fixed_bits if self.gates_enabled else None)
        if not self.gates_enabled:
            for block in self.blocks:
                x = block(x)
            logits = self.head(x).unsqueeze(0)
            taken = {}
            if FULL in self.options:
                taken["options"] = torch.full((x.shape[0], len(self.gated_blocks)), self.options.index(FULL),
                                              dtype=torch.long, device=x.device)
            return ForwardRecord.static(logits, [self.base_bops()], [], taken)
        state = None
        weights: list[torch.Tensor] = []
        probs: list[torch.Tensor] = []
        grouped = self.grouped_inference and not self.training
        index = 0
        for block, is_gated in zip(self.blocks, self._gated_flags, strict=True):
            if not is_gated:
                x = block(x, bits=self.fixed_bits)
                continue
            step = self.gate.step(index, x, state)
            state = step.state
            x = block(x, step.decision, grouped=grouped)
            weights.append(step.decision)
            probs.append(step.probs.detach())
            index += 1
        logits = self.head(x, self.fixed_bits)
        decisions = torch.stack(weights, dim=1)
        return ForwardRecord.from_decisions(logits.unsqueeze(0), self.cost, decisions,
                                            extra_decisions={"weights": decisions, "probs": torch.stack(probs, 1)})

    # -- cost ------------------------------------------------------------------------------------------------------
    def compute_percentage(self, record: ForwardRecord, differentiable: bool = False) -> torch.Tensor:
        """``(N,)`` DFS cp of each sample (gated blocks' BOPs over all of them at full precision; gates, stem,
        first block and FC out). ``differentiable`` reads the straight-through weights (same values)."""
        key = "weights" if differentiable else "options"
        return self.cost.compute_percentage(record.decisions[key])

    def base_bops(self) -> float:
        """BOPs of the plain FP base (every layer of the backbone at W32A32, no gate): the model A of DFS."""
        return layers_bops(self.backbone.layers, FULL_PRECISION)

    def gate_macs(self) -> int:
        """MACs of the gates per sample (the cost model's specs)."""
        return self.gate.macs()

    # -- decisions -------------------------------------------------------------------------------------------------
    def decision_counts(self, record_or_options: ForwardRecord | torch.Tensor) -> torch.Tensor:
        """``(U, O)`` how many samples chose each option in each gated block."""
        options = record_or_options.decisions["options"] if isinstance(record_or_options, ForwardRecord) \
            else record_or_options
        return decision_counts(options, self.num_options)

    def decision_shares(self, record_or_options: ForwardRecord | torch.Tensor | None = None, *,
                        counts: torch.Tensor | None = None) -> dict[str, dict[str, float]]:
        """Per gated block, the share of samples taking each option (DFS Figs. 8-10); from a record, option
        indices ``(N, U)`` or accumulated ``counts`` ``(U, O)``."""
        if counts is None:
            if record_or_options is None:
                raise ValueError("give a record, option indices or counts")
            counts = self.decision_counts(record_or_options)
        totals = counts.sum(dim=1).clamp_min(1).to(torch.float64)
        shares = counts.to(torch.float64) / totals.unsqueeze(1)
        return {unit: {name: float(shares[u, o]) for o, name in enumerate(self.options)}
                for u, unit in enumerate(self.gated_blocks)}

    # -- freezing (DFS Sec. 4, step 1) -----------------------------------------------------------------------------
    def gate_parameters(self) -> Iterator[nn.Parameter]:
        return self.gate.parameters()

    def base_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter of the base network A (all but the gates')."""
        gate_ids = {id(p) for p in self.gate.parameters()}
        return (p for p in self.parameters() if id(p) not in gate_ids)

    def base_norms(self) -> list[nn.BatchNorm2d]:
        return [m for name, m in self.named_modules() if isinstance(m, nn.BatchNorm2d)
                and not name.startswith(f"{GATE_PREFIX}.")]

    def freeze_base(self, frozen: bool = True, freeze_statistics: bool = True) -> None:
        """DFS step 1, "fix the parameters of A and train the gating network": ``requires_grad`` off for every
        base parameter (on again with ``frozen=False``). With ``freeze_statistics`` the base's BatchNorms also
        stay in eval mode while the network trains (their running statistics are A's: a choice, the paper only
        says parameters); the min-max activation ranges keep tracking (an FP base has none yet)."""
        for p in self.base_parameters():
            p.requires_grad_(not frozen)
        self._freeze_statistics = frozen and freeze_statistics
        self.train(self.training)

    def load_base_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load the base network A: every parameter and BN buffer of ``stem``, ``blocks`` and ``head`` must be in
        ``state`` (this network's key layout, from any option list; :func:`multi_exit_base_state` converts a
        full-precision MultiExitNetwork's); min-max ranges are loaded when present. Gates are left as they are."""
        own = self.state_dict()
        base = [k for k in own if k.startswith(BASE_PREFIXES)]
        required = [k for k in base if ".act_quant." not in k]
        missing = [k for k in required if k not in state]
        if missing:
            raise KeyError(f"the base state lacks {len(missing)} keys, e.g. {missing[:3]}")
        for key in base:
            if key in state:
                if tuple(state[key].shape) != tuple(own[key].shape):
                    raise ValueError(f"{key}: shape {tuple(state[key].shape)} in the state, "
                                     f"{tuple(own[key].shape)} in the network")
                own[key] = state[key]
        self.load_state_dict(own)

    @property
    def base_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.base_parameters())

    def train(self, mode: bool = True) -> FractionalSkipNetwork:
        super().train(mode)
        if mode and self._freeze_statistics:
            for norm in self.base_norms():
                norm.eval()
        return self

    def summary(self) -> Mapping[str, object]:
        """What the network is, for logs: options, gated blocks, gate MACs, reference BOPs of cp."""
        return {"options": list(self.options), "gated_blocks": list(self.gated_blocks),
                "gate_macs": self.gate_macs(), "cp_reference_bops": self.table.reference_bops()}
