"""Min-max linear quantizer (DFS's quantizer, METHODS.md 3.7): levels, the straight-through gradient, the per-tensor
weight range and the running activation range."""

from __future__ import annotations

import pytest
import torch

from trainers.quantization.minmax import RunningRangeQuantizer, batch_range, minmax_quantize, minmax_weight


def test_two_bits_map_to_the_four_levels_of_the_range() -> None:
    x = torch.tensor([-3.0, -1.0, -0.6, -0.4, 0.4, 0.6, 1.49, 1.51, 2.0, 5.0])
    q = minmax_quantize(x, 2, -1.0, 2.0)  # step 1: levels -1, 0, 1, 2
    assert torch.equal(q, torch.tensor([-1.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0]))


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_weight_levels_lie_on_the_tensor_range_grid(bits: int) -> None:
    torch.manual_seed(bits)
    w = torch.randn(16, 8, 3, 3)
    q = minmax_weight(w, bits)
    lo, hi = w.min(), w.max()
    step = (hi - lo) / (2**bits - 1)
    codes = (q - lo) / step
    torch.testing.assert_close(codes, codes.round(), atol=1e-3, rtol=0)
    assert q.unique().numel() <= 2**bits
    assert q.min() == lo  # the range is kept: code 0 is exactly min w
    torch.testing.assert_close(q.max(), hi)
    assert (q - w).abs().max() <= step / 2 + 1e-6  # nearest level


def test_sixteen_bits_are_close_to_full_precision_and_eight_bits_are_coarser() -> None:
    torch.manual_seed(0)
    w = torch.randn(32, 16, 3, 3)
    err8 = (minmax_weight(w, 8) - w).abs().max()
    err16 = (minmax_weight(w, 16) - w).abs().max()
    span = w.max() - w.min()
    assert err16 <= span / (2 * (2**16 - 1)) * 1.01 < err8 <= span / (2 * 255) * 1.01


@pytest.mark.parametrize("bits", [None, 32, 40])
def test_full_precision_returns_the_tensor_itself(bits: int | None) -> None:
    w = torch.randn(4, 4)
    assert minmax_weight(w, bits) is w
    assert minmax_quantize(w, bits, -1.0, 1.0) is w
    assert RunningRangeQuantizer()(w, bits) is w


@pytest.mark.parametrize("bits", [0, -1, 2.5, True])
def test_bits_outside_one_and_up_are_refused(bits: object) -> None:
    with pytest.raises(ValueError, match="bit-width"):
        minmax_weight(torch.randn(3), bits)  # type: ignore[arg-type]


def test_straight_through_gradient_is_the_identity_inside_and_outside_the_range() -> None:
    x = torch.linspace(-3, 3, 25, requires_grad=True)
    upstream = torch.randn(25)
    (minmax_quantize(x, 3, -1.0, 1.0) * upstream).sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, upstream)


def test_the_weight_range_gets_no_gradient_only_the_straight_through_one() -> None:
    w = torch.randn(5, 7, requires_grad=True)
    minmax_weight(w, 4).sum().backward()
    assert w.grad is not None
    assert torch.equal(w.grad, torch.ones_like(w))  # min / max are read detached


def test_the_forward_value_is_exactly_the_quantized_one() -> None:
    x = torch.randn(100, requires_grad=True)
    q = minmax_quantize(x, 4, -2.0, 2.0)
    reference = minmax_quantize(x.detach(), 4, -2.0, 2.0)
    assert torch.equal(q.detach(), reference)
    assert reference.unique().numel() <= 16


def test_an_empty_range_is_refused_and_a_constant_tensor_stays_constant() -> None:
    with pytest.raises(ValueError, match="empty"):
        minmax_quantize(torch.randn(3), 4, 1.0, -1.0)
    w = torch.full((3, 3), 0.25)
    assert torch.equal(minmax_weight(w, 4), w)


def test_batch_range_is_the_mean_of_per_sample_extremes() -> None:
    x = torch.tensor([[0.0, 1.0, 4.0], [2.0, -2.0, 3.0]])
    lo, hi = batch_range(x)
    assert float(lo) == pytest.approx(-1.0)  # mean(0, -2)
    assert float(hi) == pytest.approx(3.5)  # mean(4, 3)


def test_running_range_starts_at_the_first_batch_then_follows_an_ema() -> None:
    quant = RunningRangeQuantizer(momentum=0.25)
    quant.train()
    first = torch.tensor([[0.0, 4.0]])
    second = torch.tensor([[-4.0, 8.0]])
    quant(first, 4)
    assert (float(quant.running_min), float(quant.running_max)) == (0.0, 4.0)
    quant(second, 4)
    assert float(quant.running_min) == pytest.approx(0.75 * 0.0 + 0.25 * -4.0)
    assert float(quant.running_max) == pytest.approx(0.75 * 4.0 + 0.25 * 8.0)
    quant(second, None)  # a full-precision call neither quantizes nor observes
    assert float(quant.running_max) == pytest.approx(5.0)


def test_training_quantizes_on_the_batch_range_and_eval_on_the_running_one() -> None:
    quant = RunningRangeQuantizer(momentum=0.5)
    quant.train()
    x = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    assert torch.equal(quant(x, 2), minmax_quantize(x, 2, 0.0, 3.0))
    quant(torch.tensor([[0.0, 9.0]]), 2)  # running range [0, 6]
    quant.eval()
    y = torch.tensor([[0.0, 1.0, 2.5, 7.0]])
    assert torch.equal(quant(y, 2), minmax_quantize(y, 2, 0.0, 6.0))
    assert float(quant.running_max) == pytest.approx(6.0)  # eval does not update


def test_in_eval_a_sample_does_not_depend_on_its_batch() -> None:
    quant = RunningRangeQuantizer()
    quant.train()
    quant(torch.rand(8, 3, 4, 4) * 5, 8)
    quant.eval()
    batch = torch.rand(6, 3, 4, 4) * 7
    together = quant(batch, 4)
    alone = torch.cat([quant(batch[i:i + 1], 4) for i in range(6)])
    assert torch.equal(together, alone)


def test_eval_before_any_training_batch_falls_back_to_the_batch_range() -> None:
    quant = RunningRangeQuantizer().eval()
    x = torch.tensor([[0.0, 2.0, 5.0]])
    assert torch.equal(quant(x, 3), minmax_quantize(x, 3, 0.0, 5.0))
    assert not bool(quant.initialized)


def test_momentum_must_lie_in_zero_one() -> None:
    with pytest.raises(ValueError, match="momentum"):
        RunningRangeQuantizer(momentum=0.0)
