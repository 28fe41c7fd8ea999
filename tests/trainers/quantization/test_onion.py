"""Onion bit-slice layers: slices, code composition (DPOQ Eq. 2-3), per-path inputs and P1 at the layer level."""

from __future__ import annotations

import pytest
import torch

from trainers.quantization import QuantConv2d, QuantLinear, dorefa_weight
from trainers.quantization.onion import OnionConv2d, OnionLinear, slice_code, slice_weight
from trainers.quantization.onion_bits import (
    check_bit_list,
    code_value,
    compose_codes,
    composition_scale,
    slice_bits,
)

BIT_LISTS = [(2, 4, 8, 16), (4, 5, 6, 8), (2, 3, 4), (1, 2, 3, 4)]


def _conv(bit_list: tuple[int, ...], seed: int = 0, **kwargs: object) -> OnionConv2d:
    torch.manual_seed(seed)
    return OnionConv2d(3, 5, 3, padding=1, bit_list=bit_list, **kwargs).double()  # type: ignore[arg-type]


def test_slice_bits_are_the_differences_of_the_bit_list() -> None:
    assert slice_bits((2, 4, 8, 16)) == (2, 2, 4, 8)
    assert slice_bits((4, 5, 6, 8)) == (4, 1, 1, 2)
    assert slice_bits([8]) == (8,)


@pytest.mark.parametrize("bad", [(), (4, 2), (2, 2, 4), (0, 2), (2, 33), (True, 2), (2.0, 4)])
def test_bad_bit_lists_are_refused(bad: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="bit list"):
        check_bit_list(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bit_list", BIT_LISTS)
def test_composition_scales_sum_to_one_and_start_at_one(bit_list: tuple[int, ...]) -> None:
    # the all-ones code of every slice composes to the all-ones B_p-bit code: sum_s k_{s,p} = 1 exactly in Eq. 2
    for p in range(len(bit_list)):
        assert sum(composition_scale(bit_list, s, p) for s in range(p + 1)) == pytest.approx(1.0, abs=1e-12)
    assert composition_scale(bit_list, 0, 0) == 1.0
    with pytest.raises(ValueError):
        composition_scale(bit_list, 1, 0)


def test_composition_scale_of_the_default_list() -> None:
    # k_{s,3} = 2^(16 - B_s) (2^b_s - 1) / (2^16 - 1): about 1, 2^-2, 2^-4, 2^-8 (a slice's significance)
    expected = [2**14 * 3, 2**12 * 3, 2**8 * 15, 255]
    for s, numerator in enumerate(expected):
        assert composition_scale((2, 4, 8, 16), s, 3) == numerator / 65535


@pytest.mark.parametrize("bit_list", BIT_LISTS)
def test_composed_code_is_a_valid_code_with_the_lower_code_as_msbs(bit_list: tuple[int, ...]) -> None:
    layer = _conv(bit_list)
    codes = layer.slice_codes()
    for s, bits in enumerate(layer.slice_bits):
        assert codes[s].min() >= 0 and codes[s].max() <= 2**bits - 1
        assert codes[s].unique().numel() > 1
    for p, total_bits in enumerate(bit_list):
        code = layer.composed_code(p)
        assert code.dtype == torch.int64 and code.min() >= 0 and code.max() <= 2**total_bits - 1
        if p == 0:
            assert torch.equal(code, codes[0])
            continue
        shift = total_bits - bit_list[p - 1]
        lower = layer.composed_code(p - 1)
        assert torch.equal(code >> shift, lower)  # the lb-bit weight is the MSBs of the hb-bit one
        assert torch.equal(code - (lower << shift), codes[p])  # Eq. 2: W_{hb-lb} = W_hb - W_lb 2^(hb-lb)


@pytest.mark.parametrize("bit_list", BIT_LISTS)
def test_composed_weight_is_the_dorefa_value_of_the_composed_code(bit_list: tuple[int, ...]) -> None:
    layer = _conv(bit_list, seed=1)
    for p, total_bits in enumerate(bit_list):
        assert torch.allclose(layer.composed_weight(p), code_value(layer.composed_code(p), total_bits),
                              rtol=0, atol=1e-12)


def test_compose_codes_shifts_each_slice_by_the_bits_below_it() -> None:
    codes = [torch.tensor([3, 1]), torch.tensor([2, 0]), torch.tensor([15, 7])]
    assert compose_codes(codes, (2, 4, 8), 2).tolist() == [(3 << 6) + (2 << 4) + 15, (1 << 6) + 7]
    with pytest.raises(ValueError):
        compose_codes(codes[:1], (2, 4, 8), 1)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_multi_bit_slices_are_dorefa(bits: int) -> None:
    w = torch.randn(6, 4, 3, 3)
    assert torch.equal(slice_weight(w, bits), dorefa_weight(w, bits))
    assert torch.allclose(code_value(slice_code(w, bits), bits), slice_weight(w, bits).double(), atol=1e-7)


def test_one_bit_slice_is_the_sign_on_dorefas_grid_with_the_tanh_straight_through_gradient() -> None:
    w = torch.randn(40, requires_grad=True)
    q = slice_weight(w, 1)
    assert torch.equal(q, torch.where(w > 0, 1.0, -1.0))  # +-1, not DoReFa k=1's +-E|w|
    assert not torch.equal(q, dorefa_weight(w, 1))
    assert torch.equal(slice_code(w, 1), (w > 0).long())
    g = torch.randn(40)
    (q * g).sum().backward()
    reference = w.detach().clone().requires_grad_(True)
    t = torch.tanh(reference)
    (t / t.abs().amax() * g).sum().backward()
    assert torch.allclose(w.grad, reference.grad, atol=1e-6)  # type: ignore[arg-type]


def test_full_precision_slices_have_no_code() -> None:
    with pytest.raises(ValueError, match="full precision"):
        slice_code(torch.randn(3), 32)


@pytest.mark.parametrize("bit_list", BIT_LISTS)
def test_composed_conv_equals_the_scaled_sum_of_slice_convs(bit_list: tuple[int, ...]) -> None:
    # Eq. 3 at the first layer: every path reads the same input, so the B_p-bit conv is the k_{s,p}-sum of slices
    layer = _conv(bit_list, seed=2)
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    quantized = layer.quantize_inputs([x] * layer.num_slices)
    assert all(torch.equal(q, quantized[0]) for q in quantized)
    outputs = layer(quantized, prequantized=True)
    for p in range(len(bit_list)):
        summed = sum(composition_scale(bit_list, s, p) * outputs[s] for s in range(p + 1))
        assert torch.allclose(summed, layer.composed_conv(quantized[0], p), rtol=0, atol=1e-10)
        if p > 0:  # the plain (unscaled) sum is not the composed conv: the check can fail
            assert not torch.allclose(sum(outputs[: p + 1]), layer.composed_conv(quantized[0], p), atol=1e-3)


def test_composed_linear_equals_the_scaled_sum_of_slice_products() -> None:
    torch.manual_seed(3)
    layer = OnionLinear(7, 4, bit_list=(2, 4, 8, 16)).double()
    x = torch.rand(5, 7, dtype=torch.float64)
    quantized = layer.quantize_inputs([x] * 4)
    outputs = layer([x] * 4)  # each slice quantizes its input itself
    for p in range(4):
        summed = sum(composition_scale((2, 4, 8, 16), s, p) * outputs[s] for s in range(p + 1))
        assert torch.allclose(summed, layer.composed_linear(quantized[0], p), rtol=0, atol=1e-10)


def test_each_slice_reads_its_own_paths_input() -> None:
    layer = _conv((2, 4, 8, 16), seed=4)
    xs = [torch.rand(2, 3, 6, 6, dtype=torch.float64) for _ in range(4)]
    before = layer(xs)
    changed = list(xs)
    changed[2] = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    after = layer(changed)
    assert [torch.equal(a, b) for a, b in zip(before, after, strict=True)] == [True, True, False, True]
    assert len(layer(xs[:2])) == 2
    with pytest.raises(ValueError):
        layer(xs + xs[:1])
    with pytest.raises(ValueError):
        layer([])


def test_each_path_has_its_own_input_quantizer() -> None:
    layer = _conv((2, 4), seed=5, a_bits=4)
    assert layer.slices[0].act_quant.alpha is not layer.slices[1].act_quant.alpha
    with torch.no_grad():
        layer.slices[1].act_quant.alpha.fill_(0.5)
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64) * 2
    q0, q1 = layer.quantize_inputs([x, x])
    assert q1.max() <= 0.5 < q0.max()
    assert q1.unique().numel() <= 16


def test_slices_are_quant_layers_at_their_slice_bits() -> None:
    conv = OnionConv2d(3, 4, 3, bit_list=(2, 4, 8, 16), a_bits=8)
    linear = OnionLinear(3, 4, bit_list=(4, 5, 6, 8), a_bits=2)
    assert all(isinstance(s, QuantConv2d) for s in conv.slices)
    assert all(isinstance(s, QuantLinear) for s in linear.slices)
    assert [s.w_bits for s in conv.slices] == [2, 2, 4, 8] and {s.a_bits for s in conv.slices} == {8}
    assert [s.w_bits for s in linear.slices] == [4, 1, 1, 2] and {s.a_bits for s in linear.slices} == {2}
    assert all(s.bias is None for s in [*conv.slices, *linear.slices])


def test_lower_slice_outputs_do_not_depend_on_higher_slices() -> None:
    # P1 at the layer level: a layer without the higher slices, or with them changed, gives bit-identical outputs
    full = OnionConv2d(3, 5, 3, padding=1, bit_list=(2, 4, 8, 16))
    short = OnionConv2d(3, 5, 3, padding=1, bit_list=(2, 4))
    short.load_state_dict({k: v for k, v in full.state_dict().items() if k in short.state_dict()})
    xs = [torch.rand(2, 3, 6, 6) for _ in range(4)]
    reference = full(xs)
    assert all(torch.equal(a, b) for a, b in zip(short(xs[:2]), reference[:2], strict=True))
    with torch.no_grad():
        for s in (2, 3):
            full.slices[s].weight.normal_()
            full.slices[s].act_quant.alpha.fill_(0.7)
    changed = full(xs)
    assert [torch.equal(a, b) for a, b in zip(changed, reference, strict=True)] == [True, True, False, False]
