"""QuantConv2d / QuantLinear: PACT on the entering activations, DoReFa on the weights, switchable bit-widths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainers.quantization import PACTQuantizer, QuantConv2d, QuantLinear, dorefa_weight


def _conv_pair(**kwargs: object) -> tuple[QuantConv2d, nn.Conv2d]:
    torch.manual_seed(0)
    quant = QuantConv2d(4, 6, 3, **kwargs)  # type: ignore[arg-type]
    plain_kwargs = {k: v for k, v in kwargs.items() if k not in {"w_bits", "a_bits", "alpha_init"}}
    plain = nn.Conv2d(4, 6, 3, **plain_kwargs)  # type: ignore[arg-type]
    plain.load_state_dict({k: v for k, v in quant.state_dict().items() if not k.startswith("act_quant.")})
    return quant, plain


@pytest.mark.parametrize("options", [{}, {"stride": 2, "padding": 1}, {"bias": False, "padding": 1, "groups": 2}])
def test_full_precision_conv_equals_nn_conv2d(options: dict[str, object]) -> None:
    quant, plain = _conv_pair(**options, w_bits=None, a_bits=None)
    x = torch.randn(2, 4, 9, 9)
    assert torch.equal(quant(x), plain(x))


def test_full_precision_linear_equals_nn_linear() -> None:
    torch.manual_seed(0)
    quant, plain = QuantLinear(7, 3, w_bits=32, a_bits=None), nn.Linear(7, 3)
    plain.load_state_dict({"weight": quant.weight, "bias": quant.bias})
    x = torch.randn(5, 7)
    assert torch.equal(quant(x), plain(x))


def test_quantized_conv_is_conv_of_pact_input_and_dorefa_weight() -> None:
    layer = QuantConv2d(4, 6, 3, padding=1, w_bits=3, a_bits=2, alpha_init=1.5)
    x = torch.randn(2, 4, 8, 8) * 2
    expected = F.conv2d(PACTQuantizer(2, 1.5)(x), dorefa_weight(layer.weight, 3), layer.bias, padding=1)
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_quantized_linear_is_linear_of_pact_input_and_rescaled_dorefa_weight() -> None:
    layer = QuantLinear(6, 4, w_bits=4, a_bits=8, alpha_init=2.0)
    x = torch.randn(3, 6)
    weight = dorefa_weight(layer.weight, 4) * layer.weight.abs().max()  # classifier keeps the FP weight range
    expected = F.linear(PACTQuantizer(8, 2.0)(x), weight, layer.bias)
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_activation_bits_are_those_of_the_entering_activations() -> None:
    seen: list[torch.Tensor] = []
    layer = QuantConv2d(1, 1, 1, bias=False, w_bits=None, a_bits=2, alpha_init=1.0)
    layer.weight.data.fill_(1.0)
    layer.register_forward_hook(lambda module, inputs, output: seen.append(output))
    layer(torch.linspace(-1, 2, 3001).reshape(1, 1, 1, -1))
    assert len(torch.unique(seen[0])) == 4  # 1x1 identity conv: the output shows the quantized input


def test_set_bits_changes_the_number_of_levels() -> None:
    layer = QuantConv2d(1, 1, 1, bias=False, w_bits=8, a_bits=2, alpha_init=1.0)
    layer.weight.data.fill_(0.7)
    x = torch.linspace(0, 1, 5001).reshape(1, 1, 1, -1)
    assert len(torch.unique(layer(x))) == 4
    layer.set_bits(8, 5)
    assert (layer.w_bits, layer.a_bits) == (8, 5)
    assert len(torch.unique(layer(x))) == 32
    layer.set_bits(None, None)
    assert len(torch.unique(layer(x))) == 5001


def test_set_bits_changes_weight_levels() -> None:
    torch.manual_seed(0)
    layer = QuantLinear(200, 50, bias=False, w_bits=2, a_bits=None)
    identity = torch.eye(200)
    assert len(torch.unique(layer(identity))) == 4  # rows of eye pick single weights
    layer.set_bits(3, None)
    assert len(torch.unique(layer(identity))) == 8


def test_gradients_reach_weight_bias_and_alpha() -> None:
    layer = QuantConv2d(3, 4, 3, padding=1, w_bits=4, a_bits=4, alpha_init=1.0)
    x = torch.rand(2, 3, 6, 6) * 2
    layer(x).square().sum().backward()
    for parameter in (layer.weight, layer.bias, layer.act_quant.alpha):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_constructor_exposes_bits_and_alpha_init() -> None:
    layer = QuantLinear(4, 2, w_bits=8, a_bits=8, alpha_init=1.0)
    assert (layer.w_bits, layer.a_bits) == (8, 8)
    assert layer.act_quant.alpha.tolist() == [1.0]
    assert "w_bits=8, a_bits=8" in repr(layer)
    assert QuantConv2d(3, 3, 3).act_quant.alpha.tolist() == [6.0]  # body default
    with pytest.raises(ValueError, match="bit-width"):
        layer.set_bits(0, 8)
