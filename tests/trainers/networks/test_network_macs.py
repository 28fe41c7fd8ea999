"""Every preset's torch network has exactly the MACs the cost model prices (one source of truth)."""

from __future__ import annotations

import random

import pytest
import torch

from spaces import CostModel, list_presets, load_space
from trainers.networks import build_supernet


def hooked_macs(net: torch.nn.Module, modules: dict[str, torch.nn.Module], shape: tuple[int, ...]) -> dict[str, int]:
    macs: dict[str, int] = {}
    handles = []
    for name, module in modules.items():
        def record(mod: torch.nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor, name: str = name) -> None:
            if isinstance(mod, torch.nn.Conv2d):
                per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
                macs[name] = output[0].numel() * per_out
            else:
                macs[name] = mod.in_features * mod.out_features

        handles.append(module.register_forward_hook(record))
    with torch.no_grad():
        net.eval()(torch.zeros(shape))
    for handle in handles:
        handle.remove()
    return macs


@pytest.mark.parametrize("preset", [p for p in list_presets()
                                    if p != "usdn-resnet18-imagenet" and load_space(p).method == "usdn"])
def test_network_macs_equal_cost_model(preset: str) -> None:
    space = load_space(preset)
    net = build_supernet(space)
    config = space.sample(random.Random(3))
    net.set_config(config)
    backbone = space.backbone
    measured = hooked_macs(net, net.quantized_modules(), (1, backbone.in_channels, backbone.input_size,
                                                          backbone.input_size))
    expected = {layer.name: layer.macs for layer in backbone.layers}
    cost = CostModel(space)
    for block in space.exit_blocks(config):
        expected.update({layer.name: layer.macs for layer in cost.exit_layers(block)})
    assert measured == expected


@pytest.mark.slow
def test_resnet18_network_macs_equal_cost_model() -> None:
    space = load_space("usdn-resnet18-imagenet")
    net = build_supernet(space)
    config = space.uniform((4, 4))
    net.set_config(config)
    measured = hooked_macs(net, net.quantized_modules(), (1, 3, 224, 224))
    expected = {layer.name: layer.macs for layer in space.backbone.layers}
    for block in space.exit_blocks(config):
        expected.update({layer.name: layer.macs for layer in CostModel(space).exit_layers(block)})
    assert measured == expected
