"""The DPOQ onion network: every precision of the bit list as a full-depth path, all in one pass (DPOQ Sec. 3,
Fig. 1).

Built from ``spaces.backbones.Backbone`` data, like :class:`~trainers.networks.MultiExitNetwork`: stem, residual
(``basic``) or depthwise-separable blocks, head. Every conv, the first included, is an onion conv (weights
DoReFa-quantized per slice); activations are PACT-quantized at the fixed ``a_bits`` with one alpha per path and
layer (the paths' distributions differ); the image enters at ``input_bits``. Each precision has its own classifier
(:mod:`trainers.networks.onion_classifiers`).

``forward(x)`` returns ``(P, N, C)`` logits, lowest precision first: the ``(E, N, C)`` contract of
``trainers.early_exit``'s evaluation with exits = precisions. ``forward(x, precisions=p)`` runs only the ``p``
lowest paths, which is all that a deployment at bit list entry ``p - 1`` computes; its outputs are bit-identical
to the first ``p`` of the full forward (claim P1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from spaces.backbones import Backbone
from trainers.networks.grad_scale import CrossPathScales, TrainingMode
from trainers.networks.onion_blocks import ONION_BLOCK_TYPES, OnionStem
from trainers.networks.onion_classifiers import OnionClassifier, PerPathClassifier
from trainers.quantization.bits import check_bits
from trainers.quantization.onion_bits import DEFAULT_BIT_LIST, check_bit_list

ClassifierKind = Literal["per_path", "onion"]


class OnionNetwork(nn.Module):
    """A DPOQ network over ``backbone`` with the precisions of ``bit_list`` (cumulative weight bits, increasing).

    - ``a_bits``: activation bits of every body layer and classifier, all paths (None: full precision).
    - ``psbn``: PSBN (Eq. 7-8) after every conv, else the vanilla per-path BN of the summed slices (Fig. 2a).
    - ``mode``: ``joint`` | ``separate`` | ``grad_scale`` (Eq. 6); a plain attribute, settable between steps.
    - ``input_bits``: PACT bits of the image entering the first conv (8: pixels are 8-bit data).
    - ``classifier``: ``per_path`` (one FC per precision at ``classifier_w_bits``) or ``onion`` (sliced FC).
    """

    def __init__(self, backbone: Backbone, bit_list: Sequence[int] = DEFAULT_BIT_LIST, a_bits: int | None = 8, *,
                 psbn: bool = True, mode: TrainingMode = "grad_scale", input_bits: int | None = 8,
                 classifier: ClassifierKind = "per_path", classifier_w_bits: int | None = 8) -> None:
        super().__init__()
        self.backbone = backbone
        self.bit_list = check_bit_list(bit_list)
        self.a_bits = check_bits(a_bits)
        self.input_bits = check_bits(input_bits)
        self.psbn = psbn
        self.scales = CrossPathScales(self.bit_list, mode)
        if classifier not in ("per_path", "onion"):
            raise ValueError(f"classifier must be 'per_path' or 'onion', got {classifier!r}")
        self.classifier_kind = classifier
        self.blocks = nn.ModuleList()
        self.block_names: list[str] = []
        head_spec = None
        for block in backbone.blocks:
            if block.kind == "head":
                head_spec = block
                continue
            if block.kind == "stem":
                module: nn.Module = OnionStem(block, self.bit_list, self.input_bits, psbn, self.scales)
            elif block.kind in ONION_BLOCK_TYPES:
                module = ONION_BLOCK_TYPES[block.kind](block, self.bit_list, self.a_bits, psbn, self.scales)
            else:
                raise ValueError(f"block {block.name}: kind {block.kind!r} has no onion version")
            self.blocks.append(module)
            self.block_names.append(block.name)
        if head_spec is None:
            raise ValueError(f"backbone {backbone.name} has no head block")
        fc = head_spec.layers[0]
        self.head_name = fc.name
        self.head: PerPathClassifier | OnionClassifier = (
            PerPathClassifier(fc.in_channels, fc.out_channels, len(self.bit_list), classifier_w_bits, self.a_bits)
            if classifier == "per_path"
            else OnionClassifier(fc.in_channels, fc.out_channels, self.bit_list, self.a_bits, self.scales))
        self._frozen_below = 0

    # -- precisions ------------------------------------------------------------------------------
    @property
    def num_precisions(self) -> int:
        return len(self.bit_list)

    @property
    def num_exits(self) -> int:
        """Exits are precisions (the ``E`` of the ``(E, N, C)`` contract)."""
        return len(self.bit_list)

    @property
    def mode(self) -> TrainingMode:
        return self.scales.mode

    @mode.setter
    def mode(self, mode: TrainingMode) -> None:
        self.scales.mode = mode

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, precisions: int | None = None) -> torch.Tensor:
        """``(p, N, C)`` logits of the ``p = precisions`` lowest paths (all P by default), lowest first."""
        count = self.num_precisions if precisions is None else precisions
        if not 1 <= count <= self.num_precisions:
            raise ValueError(f"precisions must be in 1..{self.num_precisions}, got {precisions}")
        xs: list[torch.Tensor] = [x] * count
        for block in self.blocks:
            xs = block(xs)
        return torch.stack(self.head(xs))

    # -- ownership -------------------------------------------------------------------------------
    def path_parameters(self, p: int) -> list[nn.Parameter]:
        """The parameters path p owns: slice p of every conv (weight, input alpha), the affines writing into
        path p, and classifier p. Disjoint over p, together all parameters."""
        self._check_path(p)
        params = [param for block in self.blocks for param in block.path_parameters(p)]  # type: ignore[operator]
        return params + self.head.path_parameters(p)

    def path_norms(self, p: int) -> list[nn.Module]:
        """The batch-norm statistics path p owns (PSBN: slice p's; vanilla: BN_p) in every layer."""
        self._check_path(p)
        return [norm for block in self.blocks for norm in block.path_norms(p)]  # type: ignore[operator]

    def active_batch_norms(self) -> list[nn.BatchNorm2d]:
        """Every path's batch-norm statistics (a forward runs them all), as ``MultiExitNetwork``'s: what
        ``trainers.evaluation.recalibrate_batch_norm`` resets and recomputes."""
        return [norm for p in range(self.num_precisions) for norm in self.path_norms(p)]  # type: ignore[misc]

    def quantized_modules(self) -> dict[str, nn.Module]:
        """Every slice conv and classifier module of every path by name (:meth:`slice_modules` over all p)."""
        modules: dict[str, nn.Module] = {}
        for p in range(self.num_precisions):
            modules.update(self.slice_modules(p))
        return modules

    def slice_modules(self, p: int) -> dict[str, nn.Module]:
        """What running path p adds once paths 0..p-1 ran: slice p of every conv (a ``QuantConv2d`` with
        ``w_bits = b_p``) and classifier p, by ``<layer name>.slice<p>`` (a per-path FC: ``<name>.path<p>``); forward
        hooks count their MACs."""
        self._check_path(p)
        modules: dict[str, nn.Module] = {}
        for block in self.blocks:
            modules.update(block.slice_modules(p))  # type: ignore[operator]
        modules.update(self.head.slice_modules(p, self.head_name))
        return modules

    def freeze_below(self, p: int) -> None:
        """Freeze paths 0..p-1 (DPOQ Sec. 3's extension: train only the new precision, the rest fixed): their
        parameters stop requiring gradients and their statistics stay in eval mode through :meth:`train`.
        ``freeze_below(0)`` unfreezes everything."""
        if not 0 <= p <= self.num_precisions:
            raise ValueError(f"p must be in 0..{self.num_precisions}, got {p}")
        self._frozen_below = p
        for q in range(self.num_precisions):
            for param in self.path_parameters(q):
                param.requires_grad_(q >= p)
        self.train(self.training)

    def train(self, mode: bool = True) -> OnionNetwork:
        super().train(mode)
        for q in range(getattr(self, "_frozen_below", 0)):
            for norm in self.path_norms(q):
                norm.eval()
        return self

    def _check_path(self, p: int) -> None:
        if not 0 <= p < self.num_precisions:
            raise ValueError(f"path must be in 0..{self.num_precisions - 1}, got {p}")

