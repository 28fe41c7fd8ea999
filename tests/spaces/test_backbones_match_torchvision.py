"""The ResNet-18 backbone data has the per-layer MACs counted by forward hooks on torchvision's model."""

from __future__ import annotations

import torch
import torchvision

from spaces import create_backbone


def hooked_macs(model: torch.nn.Module, input_size: int) -> dict[str, int]:
    macs: dict[str, int] = {}

    def hook(name: str):
        def record(module: torch.nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            if isinstance(module, torch.nn.Conv2d):
                per_out = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
                macs[name] = output[0].numel() * per_out
            else:
                macs[name] = module.in_features * module.out_features

        return record

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, input_size, input_size))
    return macs


def test_resnet18_per_layer_macs_equal_torchvision_hooks() -> None:
    expected = hooked_macs(torchvision.models.resnet18(weights=None), 224)
    backbone = create_backbone("resnet18")
    assert {layer.name: layer.macs for layer in backbone.layers} == expected
    assert backbone.macs == 1_814_073_344  # conv + FC multiply-accumulates, biases excluded
