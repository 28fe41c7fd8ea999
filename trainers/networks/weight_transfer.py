"""Starting points of the USDN networks (supplement App. A: "we pre-trained the full-precision supernet and then
fine-tuned it through quantization-aware training").

- :func:`initialise_from` copies a full-precision multi-exit network into a supernet (every bit-width candidate
  of a layer gets the same FP weights and BN) or into a fixed network (teacher, students, baselines).
- :func:`share_candidates` gives every candidate of a layer candidate 0's random start (the ablation without
  pre-training); independent starts are what a freshly built supernet has.
- :func:`calibrate_activation_clipping` sets every PACT ``alpha`` to the MSE-optimal clip of the inputs the
  full-precision network feeds that layer, per candidate bit-width (``trainers.quantization.pact_calibration``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

import torch
from torch import nn

from trainers.networks.candidate_conv import CandidateConvBN, InheritingLinear
from trainers.networks.multi_exit_network import MultiExitNetwork
from trainers.quantization.pact_calibration import mse_optimal_alpha

INIT_MODES = ("pretrained", "shared", "independent")
"""Supernet starting points: FP pre-training (default), one random start shared by the candidates, or K
independent random starts (the behaviour before FP pre-training existed; an ablation)."""

_SAMPLES_PER_BATCH = 20_000


def _inside_candidate(name: str, candidate_names: list[str]) -> bool:
    return any(name.startswith(prefix + ".") for prefix in candidate_names)


@torch.no_grad()
def initialise_from(target: MultiExitNetwork, source: MultiExitNetwork) -> int:
    """Copy ``source``'s weights into ``target``; returns the number of tensors written.

    Each ``CandidateConvBN`` of ``target`` takes, in *every* candidate, the conv weight, PACT alpha and BN
    (affine and running statistics) of the active candidate of the module with the same name in ``source``;
    every other parameter or buffer (IC and final FCs, SDN pooling mix) is copied by name. Modules ``source``
    lacks (an IC location it has no head at) keep their values. ValueError if nothing matched.
    """
    sources = dict(source.named_modules())
    written = 0
    candidate_names: list[str] = []
    for name, module in target.named_modules():
        if not isinstance(module, CandidateConvBN):
            continue
        candidate_names.append(name)
        origin = sources.get(name)
        if not isinstance(origin, CandidateConvBN):
            continue
        conv, bn = origin.conv, origin.bns[origin.active]
        for k in range(len(module.candidates)):
            module.convs[k].weight.copy_(conv.weight)  # type: ignore[operator]
            module.convs[k].act_quant.alpha.copy_(conv.act_quant.alpha)  # type: ignore[union-attr]
            module.bns[k].load_state_dict(bn.state_dict())
            written += 2 + len(bn.state_dict())
    source_state = source.state_dict()
    for name, tensor in target.state_dict().items():
        if _inside_candidate(name, candidate_names):
            continue
        value = source_state.get(name)
        if value is not None and value.shape == tensor.shape:
            tensor.copy_(value)
            written += 1
    if written == 0:
        raise ValueError("no tensor of the source network matches the target network")
    return written


@torch.no_grad()
def share_candidates(net: nn.Module) -> None:
    """Every candidate of every ``CandidateConvBN`` starts from candidate 0's weights, alpha and BN."""
    for module in net.modules():
        if isinstance(module, CandidateConvBN):
            for k in range(1, len(module.candidates)):
                module.convs[k].load_state_dict(module.convs[0].state_dict())
                module.bns[k].load_state_dict(module.bns[0].state_dict())


def _is_supernet(net: nn.Module) -> bool:
    return any(isinstance(m, CandidateConvBN) and len(m.candidates) > 1 for m in net.modules())


@torch.no_grad()
def collect_layer_inputs(source: nn.Module, batches: Iterable[torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Inputs (before any quantizer) of every ``CandidateConvBN`` and ``InheritingLinear`` of ``source`` in eval
    mode, by module name: up to 20,000 values a batch, drawn with a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    samples: dict[str, list[torch.Tensor]] = {}
    handles = []

    def hook(name: str):
        def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            flat = args[0].detach().flatten().float().cpu()
            if flat.numel() > _SAMPLES_PER_BATCH:
                flat = flat[torch.randint(flat.numel(), (_SAMPLES_PER_BATCH,), generator=generator)]
            samples.setdefault(name, []).append(flat)
        return record

    for name, module in source.named_modules():
        # hooks on the quantizers, not the layers: a block may quantize a layer's input itself and share it
        # with the shortcut (``BasicBlock.quantized_residual``); FP quantizers pass their input through
        if isinstance(module, CandidateConvBN):
            handles += [conv.act_quant.register_forward_pre_hook(hook(name)) for conv in module.convs]
        elif isinstance(module, InheritingLinear):
            handles.append(module.linear.act_quant.register_forward_pre_hook(hook(name)))
    was_training = source.training
    source.eval()
    device = next(source.parameters()).device
    try:
        for x in batches:
            source(x.to(device))
    finally:
        for handle in handles:
            handle.remove()
        source.train(was_training)
    return {name: torch.cat(parts) for name, parts in samples.items()}


@torch.no_grad()
def calibrate_activation_clipping(target: MultiExitNetwork, layer_inputs: dict[str, torch.Tensor]) -> int:
    """Set each PACT alpha of ``target`` to :func:`mse_optimal_alpha` of ``layer_inputs[module name]`` at that
    quantizer's bits; returns how many were set. A conv candidate uses its own A bits. A final or IC FC whose A
    bits follow the layer before it holds one alpha for every path: in a supernet it is calibrated at the median
    candidate A bits of the space, in a fixed network at the bits it inherits."""
    median_a = int(statistics.median_low(sorted({b.a for d in target.space.bit_dimensions for b in d.choices})))
    supernet = _is_supernet(target)
    count = 0
    for name, module in target.named_modules():
        samples = layer_inputs.get(name)
        if samples is None:
            continue
        if isinstance(module, CandidateConvBN):
            for k, bits in enumerate(module.candidates):
                alpha = module.convs[k].act_quant.alpha  # type: ignore[union-attr]
                alpha.fill_(mse_optimal_alpha(samples, None if module.full_precision else bits.a, float(alpha)))
                count += 1
        elif isinstance(module, InheritingLinear):
            linear = module.linear
            bits = linear.a_bits if (module.fixed_a or not supernet) else median_a
            linear.act_quant.alpha.fill_(mse_optimal_alpha(samples, bits, float(linear.act_quant.alpha)))
            count += 1
    return count


def start_from_full_precision(target: MultiExitNetwork, source: MultiExitNetwork, batches: Iterable[torch.Tensor],
                              seed: int = 0) -> None:
    """QAT from a full-precision network (supplement App. A; USDN Sec. 5 "refined through QAT"): ``target``
    takes ``source``'s weights (:func:`initialise_from`) and PACT alphas fitted to ``source``'s activations on
    ``batches`` (:func:`calibrate_activation_clipping`)."""
    initialise_from(target, source)
    calibrate_activation_clipping(target, collect_layer_inputs(source, batches, seed))
