"""Claim D6's second half: the gates' overhead as the cost model prices it from the layer data
(:func:`~spaces.cost.option_costs.ddi_cost_table`'s gate pieces) against the MACs forward hooks count on the
torch gates of the space's network, one sample with every gate running (layer gates opened)."""

from __future__ import annotations

from typing import Any

from spaces import SearchSpace


def _macs(module: Any, inputs: tuple[Any, ...], output: Any) -> int:
    from torch import nn

    if isinstance(module, nn.Conv2d):
        return output.numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return inputs[0].shape[0] * inputs[0].shape[1] * (module.weight_ih_l0.numel() + module.weight_hh_l0.numel())


def gate_overhead_macs(space: SearchSpace) -> tuple[float, float]:
    """``(priced, counted)`` gate MACs of one sample through ``space``'s network with every block running."""
    import torch
    from torch import nn

    from spaces.cost.option_costs import FULL_PRECISION, channel_fraction_bops, ddi_cost_table, layers_bops
    from trainers.methods.ddi import build_ddi_network

    o = space.options
    net = build_ddi_network(space).eval()
    table = ddi_cost_table(space.backbone, net.gated_blocks, FULL_PRECISION, o.layer_gate, o.channel_gate, o.site,
                           FULL_PRECISION)
    per_mac = FULL_PRECISION.w * FULL_PRECISION.a
    priced = sum(v for k, v in table.fixed_bops.items() if k.endswith(".gate"))
    for unit in table.units:
        run = next(name for name in table.options[unit] if name != "skip")
        block = space.backbone.block(unit)
        body = sum(channel_fraction_bops(block, FULL_PRECISION, o.site)) if o.channel_gate else \
            layers_bops(block.main_path, FULL_PRECISION)
        priced += table.bops[unit][run] - body
    counts = {"macs": 0}

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        counts["macs"] += _macs(module, inputs, output)

    roots = [m for m in (net.layer_gate, *net.channel_gates.values()) if m is not None]
    handles = [m.register_forward_hook(hook) for root in roots for m in root.modules()
               if isinstance(m, nn.Conv2d | nn.Linear | nn.LSTM)]
    try:
        if net.layer_gate is not None:
            with torch.no_grad():
                net.layer_gate.fc.bias.fill_(50.0)  # every block runs, so every channel gate runs
        net.branches_enabled = False
        stem = space.backbone.block("stem").main_path[0]
        with torch.inference_mode():
            net(torch.zeros(1, stem.in_channels, stem.in_size, stem.in_size))
    finally:
        for handle in handles:
            handle.remove()
    return priced / per_mac, float(counts["macs"])
