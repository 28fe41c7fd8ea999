"""SharedQuantConvBN (DFS Eq. 1's ``C_i^{b_k}``): one weight tensor for every option, quantized on the fly, and one
BN that stays valid across options with the min-max quantizer (METHODS.md 3.7)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spaces.backbones import LayerSpec
from spaces.dimensions import BitWidth
from trainers.networks.shared_quant_conv import SharedQuantConvBN, split_bits
from trainers.quantization.dorefa import dorefa_weight
from trainers.quantization.minmax import minmax_quantize, minmax_weight

SPEC = LayerSpec("b.conv1", "conv", 4, 6, 3, 1, 1, 1, 8)


def _input(n: int = 8) -> torch.Tensor:
    return torch.relu(torch.randn(n, 4, 8, 8))


def test_split_bits() -> None:
    assert split_bits(None) == (None, None)
    assert split_bits(8) == (8, 8)
    assert split_bits(BitWidth(4, 8)) == (4, 8)
    assert split_bits(BitWidth(32, 32)) == (None, None)
    assert split_bits(32) == (None, None)
    with pytest.raises(ValueError, match="bit-width"):
        split_bits(0)


def test_one_weight_tensor_serves_every_option() -> None:
    layer = SharedQuantConvBN(SPEC)
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["conv.weight", "bn.weight", "bn.bias"]
    x = _input()
    for bits in (None, 8, 16, BitWidth(4, 8)):
        layer.zero_grad()
        layer(x, bits).square().sum().backward()
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert layer.weight is layer.conv.weight


def test_full_precision_is_the_plain_conv_bn() -> None:
    torch.manual_seed(0)
    layer = SharedQuantConvBN(SPEC).eval()
    x = _input()
    expected = layer.bn(F.conv2d(x, layer.conv.weight, None, 1, 1))
    assert torch.equal(layer(x), expected)
    assert torch.equal(layer(x, BitWidth(32, 32)), expected)


@pytest.mark.parametrize("bits", [2, 8, 16])
def test_quantized_option_is_the_conv_of_the_quantized_weight_and_input(bits: int) -> None:
    torch.manual_seed(bits)
    layer = SharedQuantConvBN(SPEC).eval()
    x = _input()
    lo = x.flatten(1).amin(1).mean()
    hi = x.flatten(1).amax(1).mean()  # eval before any training batch: the batch range
    expected = layer.bn(F.conv2d(minmax_quantize(x, bits, lo, hi), minmax_weight(layer.weight, bits), None, 1, 1))
    torch.testing.assert_close(layer(x, bits), expected)


def test_weight_and_activation_bits_may_differ() -> None:
    layer = SharedQuantConvBN(SPEC)
    assert layer.quantized_weight(2).unique().numel() <= 4
    assert layer.quantized_weight(None) is layer.weight
    assert layer.quantize_input(_input(), 2).unique().numel() <= 4


def _calibrate_fp(layer: SharedQuantConvBN, x: torch.Tensor) -> None:
    """BN running statistics of the full-precision option (the pretrained base), and the activation range."""
    for norm in (layer.bn,):
        norm.momentum = None  # cumulative average
    layer.train()
    with torch.no_grad():
        for _ in range(3):
            layer(x, None)
        layer.quantize_input(x, 8)
    layer.eval()


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_minmax_keeps_the_shared_bn_valid_and_dorefa_pact_does_not() -> None:
    """The reason for the min-max quantizer (METHODS.md 3.7): with BN statistics of the FP option, the 8-bit option
    of a min-max layer lands on the same scale; DoReFa's weights in [-1, 1] and PACT's clip do not."""
    torch.manual_seed(0)
    x = _input(64) * 3
    results = {}
    for kind in ("minmax", "dorefa_pact"):
        torch.manual_seed(1)
        layer = SharedQuantConvBN(SPEC, quantizer=kind, alpha_init=1.0)
        _calibrate_fp(layer, x)
        with torch.no_grad():
            results[kind] = (_relative_error(layer(x, 8), layer(x, None)),
                             _relative_error(layer(x, 16), layer(x, None)))
    # min-max: what is left is mostly the activation range's clipping of the largest values (the batch mean of
    # per-sample maxima, the DFS code's range), the same at 8 and 16 bits; DoReFa/PACT: off by the scale itself
    assert results["minmax"][1] <= results["minmax"][0] < 0.06
    assert results["dorefa_pact"][0] > 0.5 > 10 * results["minmax"][0]


def test_dorefa_pact_option_uses_dorefa_weights_and_one_shared_clipping_level() -> None:
    layer = SharedQuantConvBN(SPEC, quantizer="dorefa_pact")
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["conv.weight", "bn.weight", "bn.bias", "act_quant.alpha"]
    assert torch.equal(layer.quantized_weight(4), dorefa_weight(layer.weight, 4))
    x = _input()
    layer(x, 4).sum().backward()
    assert layer.act_quant.alpha.grad is not None


def test_a_linear_spec_or_unknown_quantizer_is_refused() -> None:
    with pytest.raises(ValueError, match="not a conv"):
        SharedQuantConvBN(LayerSpec("fc", "linear", 4, 2))
    with pytest.raises(ValueError, match="quantizer"):
        SharedQuantConvBN(SPEC, quantizer="lsq")  # type: ignore[arg-type]
