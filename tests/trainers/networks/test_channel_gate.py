"""DDI's CNN channel gate G^C (Sec. 3.1.2, Fig. 2b): 3x3 stride-2 conv -> pool -> FC c x k -> sigmoid, binarised
straight through; its MACs equal to the cost model's specs (claim D6, part 2) and 1/8 of a basic block's conv."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spaces.backbones import LayerSpec
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost.option_costs import channel_gate_layers
from trainers.networks.channel_gate import ChannelGate


def test_mask_is_exactly_binary_and_trained_straight_through_the_sigmoid() -> None:
    torch.manual_seed(0)
    gate = ChannelGate.for_block("g", 6, 8, 10, init_std=0.5)
    x = torch.randn(16, 6, 8, 8)
    gate.train()
    out = gate(x)
    assert out.mask.shape == (16, 10)
    assert set(out.mask.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out.mask, (out.probs > 0.5).float())
    torch.testing.assert_close(out.probs, torch.sigmoid(out.logits))
    weights = torch.randn(16, 10)
    (grad,) = torch.autograd.grad((out.mask * weights).sum(), out.logits)
    p = out.probs.detach()
    torch.testing.assert_close(grad, weights * p * (1 - p))
    torch.testing.assert_close(out.kept_fraction, out.mask.mean(1))
    gate.eval()
    hard = gate(x)
    assert torch.equal(hard.mask, out.mask.detach()) and not hard.mask.requires_grad


def test_layers_follow_the_specs() -> None:
    specs = channel_gate_layers("layer1.1.channel_gate", 8, 16, 12)
    gate = ChannelGate(specs)
    assert (gate.conv.in_channels, gate.conv.out_channels, gate.conv.kernel_size, gate.conv.stride,
            gate.conv.padding) == (8, 8, (3, 3), (2, 2), (1, 1))
    assert (gate.fc.in_features, gate.fc.out_features) == (8, 12)
    assert gate.num_channels == 12 and gate.macs() == sum(spec.macs for spec in specs)


@pytest.mark.parametrize(("channels", "size", "out"), [(4, 8, 4), (8, 7, 8), (16, 4, 32)])
def test_gate_macs_equal_hook_counted_macs(channels: int, size: int, out: int) -> None:
    gate = ChannelGate.for_block("g", channels, size, out)
    counted = {"macs": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            counted["macs"] += output[0].numel() * module.in_channels * 9
        else:
            counted["macs"] += output[0].numel() * module.in_features

    handles = [gate.conv.register_forward_hook(hook), gate.fc.register_forward_hook(hook)]
    gate(torch.randn(1, channels, size, size))
    for handle in handles:
        handle.remove()
    assert counted["macs"] == gate.macs() == sum(s.macs for s in channel_gate_layers("g", channels, size, out))


def test_the_conv_is_one_eighth_of_a_basic_block() -> None:
    """DDI's 12.5 % channel-gate overhead for a block of c channels (the FC adds c x k, negligible)."""
    block = resnet_cifar(depth=20, width=16).block("layer2.1")
    conv1 = block.main_path[0]
    gate = ChannelGate.for_block("g", conv1.in_channels, conv1.in_size, conv1.out_channels)
    assert gate.specs[0].macs * 8 == block.macs


def test_specs_that_are_not_ddi_channel_gates_are_rejected() -> None:
    conv, fc = channel_gate_layers("g", 4, 8, 4)
    with pytest.raises(ValueError, match="3x3, stride 2"):
        ChannelGate((LayerSpec("g.conv", "conv", 4, 4, 3, 1, 1, 1, 8, "gate"), fc))
    with pytest.raises(ValueError, match="do not chain"):
        ChannelGate((LayerSpec("g.conv", "conv", 4, 8, 3, 2, 1, 1, 8, "gate"), fc))
    with pytest.raises(ValueError, match="conv, linear"):
        ChannelGate((fc, conv))
