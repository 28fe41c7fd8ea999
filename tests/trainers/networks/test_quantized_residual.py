"""The fully quantized residual stream of ``BasicBlock`` (USDN Sec. 1: a fully quantized network)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spaces import SearchSpace
from trainers.networks import build_network
from trainers.networks.backbone_blocks import BasicBlock
from trainers.quantization import dorefa_weight


def _block(space: SearchSpace, quantized: bool, full_precision: bool = False) -> BasicBlock:
    config = {d.label: d.choices[0] for d in space.dimensions}  # (2, 2) everywhere: coarse levels
    torch.manual_seed(0)
    net = build_network(space, config, full_precision=full_precision, quantized_residual=quantized)
    block = net.blocks[1]
    assert isinstance(block, BasicBlock) and block.shortcut_kind == "identity"
    return block.eval()


def test_shortcut_carries_the_quantized_input(tiny_space: SearchSpace) -> None:
    block = _block(tiny_space, quantized=True)
    x = torch.rand(2, block.conv1.spec.in_channels, 8, 8) * 3
    with torch.no_grad():
        xq = block.conv1.conv.act_quant(x)
        conv1 = block.conv1.bn(F.conv2d(xq, dorefa_weight(block.conv1.conv.weight, 2), padding=1))
        expected = F.relu(block.conv2(F.relu(conv1)) + xq)
        assert torch.allclose(block(x), expected, atol=1e-6)
        # at 2 bits the input holds 4 levels, so the quantized and the FP shortcut differ
        assert not torch.allclose(xq, x)
        assert not torch.allclose(block(x), _block(tiny_space, quantized=False)(x))


def test_full_precision_residual_is_unchanged(tiny_space: SearchSpace) -> None:
    x = torch.rand(2, 8, 8, 8) * 3
    with torch.no_grad():
        assert torch.equal(_block(tiny_space, True, full_precision=True)(x),
                           _block(tiny_space, False, full_precision=True)(x))


def test_downsampling_block_pads_the_quantized_input(tiny_space: SearchSpace) -> None:
    config = {d.label: d.choices[0] for d in tiny_space.dimensions}
    torch.manual_seed(0)
    net = build_network(tiny_space, config).eval()
    block = next(b for b in net.blocks if isinstance(b, BasicBlock) and b.shortcut_kind == "pad")
    x = torch.rand(2, block.conv1.spec.in_channels, 8, 8) * 3
    with torch.no_grad():
        xq = block.conv1.quantize_input(x)
        main = block.conv2(F.relu(block.conv1(xq, prequantized=True)))
        assert torch.allclose(block(x), F.relu(main + block.shortcut(xq)), atol=1e-6)
