"""PSBN (DPOQ Eq. 7-8) against a hand computation, its per-slice statistics and affine count, and the vanilla
per-path BN combination (Fig. 2a)."""

from __future__ import annotations

import pytest
import torch

from trainers.networks.psbn import PathBatchNorm, PrecisionShiftBatchNorm
from trainers.quantization.onion import OnionConv2d
from trainers.quantization.onion_bits import composition_scale

EPS = 1e-5


def _outputs(count: int, seed: int = 0, channels: int = 3) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(4, channels, 5, 5, generator=generator, dtype=torch.float64) * (s + 1) + s
            for s in range(count)]


def _randomise_affines(psbn: PrecisionShiftBatchNorm, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for s, p in psbn.pairs:
            gamma, beta = psbn.affine(s, p)
            gamma.copy_(torch.rand(gamma.shape, generator=generator, dtype=gamma.dtype) + 0.5)
            beta.copy_(torch.randn(beta.shape, generator=generator, dtype=beta.dtype))


def _batch_normalised(o: torch.Tensor) -> torch.Tensor:
    mean = o.mean(dim=(0, 2, 3), keepdim=True)
    var = o.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (o - mean) / torch.sqrt(var + EPS)


def _channel(v: torch.Tensor) -> torch.Tensor:
    return v.view(1, -1, 1, 1)


def test_psbn_has_per_slice_statistics_and_one_affine_per_slice_and_target() -> None:
    psbn = PrecisionShiftBatchNorm(6, 4)
    assert psbn.pairs == [(0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2), (0, 3), (1, 3), (2, 3), (3, 3)]
    assert len(psbn.gamma) == len(psbn.beta) == 10  # 10 affine pairs per layer for 4 precisions
    assert sum(param.numel() for param in psbn.parameters()) == 10 * 2 * 6
    assert len(psbn.stats) == 4 and all(not bn.affine and bn.track_running_stats for bn in psbn.stats)
    assert [len(psbn.target_parameters(p)) for p in range(4)] == [2, 4, 6, 8]
    assert len(PrecisionShiftBatchNorm(6, 2).pairs) == 3


def test_psbn_matches_a_hand_computation_in_training() -> None:
    psbn = PrecisionShiftBatchNorm(3, 3).double()
    _randomise_affines(psbn)
    outputs = _outputs(3)
    paths = psbn(outputs)
    for p in range(3):
        expected = sum(_channel(psbn.affine(s, p)[0]) * _batch_normalised(outputs[s]) + _channel(psbn.affine(s, p)[1])
                       for s in range(p + 1))
        assert torch.allclose(paths[p], expected, rtol=0, atol=1e-12)  # type: ignore[arg-type]
    # Fig. 2b: the sum is taken after normalisation, not normalised after the sum
    summed_then_normalised = _batch_normalised(outputs[0] + outputs[1])
    assert not torch.allclose(PrecisionShiftBatchNorm(3, 3).double()(outputs)[1], summed_then_normalised,
                              atol=1e-3)


def test_psbn_running_statistics_are_each_slices_own() -> None:
    psbn = PrecisionShiftBatchNorm(3, 3).double()
    outputs = _outputs(3, seed=2)
    psbn(outputs)
    for s in range(3):
        mean = outputs[s].mean(dim=(0, 2, 3))
        var = outputs[s].var(dim=(0, 2, 3), unbiased=True)
        assert torch.allclose(psbn.stats[s].running_mean, 0.1 * mean, atol=1e-12)
        assert torch.allclose(psbn.stats[s].running_var, 0.9 + 0.1 * var, atol=1e-12)
        assert psbn.stats[s].num_batches_tracked.item() == 1  # one update per forward, however many paths read it


def test_psbn_in_eval_mode_normalises_with_the_running_statistics() -> None:
    psbn = PrecisionShiftBatchNorm(3, 2).double()
    _randomise_affines(psbn, seed=3)
    with torch.no_grad():
        for s, bn in enumerate(psbn.stats):
            bn.running_mean.fill_(0.5 * s + 0.1)
            bn.running_var.fill_(2.0 + s)
    psbn.eval()
    outputs = _outputs(2, seed=4)
    paths = psbn(outputs)
    normalised = [(o - (0.5 * s + 0.1)) / (2.0 + s + EPS) ** 0.5 for s, o in enumerate(outputs)]
    gamma01, beta01 = psbn.affine(0, 1)
    gamma11, beta11 = psbn.affine(1, 1)
    expected = (_channel(gamma01) * normalised[0] + _channel(beta01)
                + _channel(gamma11) * normalised[1] + _channel(beta11))
    assert torch.allclose(paths[1], expected, rtol=0, atol=1e-12)


def test_psbn_lower_paths_do_not_depend_on_higher_slices() -> None:
    psbn = PrecisionShiftBatchNorm(3, 4).double()
    _randomise_affines(psbn, seed=5)
    outputs = _outputs(4, seed=6)
    reference = psbn(outputs)
    fewer = psbn(outputs[:2])
    assert len(fewer) == 2 and all(torch.equal(a, b) for a, b in zip(fewer, reference[:2], strict=True))
    changed = [*outputs[:2], outputs[2] * 3 + 1, outputs[3]]
    after = psbn(changed)
    assert [torch.equal(a, b) for a, b in zip(after, reference, strict=True)] == [True, True, False, False]


def test_psbn_refuses_more_outputs_than_slices() -> None:
    with pytest.raises(ValueError):
        PrecisionShiftBatchNorm(3, 2)(_outputs(3))
    with pytest.raises(ValueError):
        PathBatchNorm(3, (2, 4))([])


def test_vanilla_combination_matches_a_hand_computation() -> None:
    bit_list = (2, 4, 8)
    vanilla = PathBatchNorm(3, bit_list).double()
    with torch.no_grad():
        for norm in vanilla.norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    outputs = _outputs(3, seed=7)
    paths = vanilla(outputs)
    for p in range(3):
        summed = sum(composition_scale(bit_list, s, p) * outputs[s] for s in range(p + 1))
        norm = vanilla.norms[p]
        expected = _channel(norm.weight) * _batch_normalised(summed) + _channel(norm.bias)  # type: ignore[arg-type]
        assert torch.allclose(paths[p], expected, rtol=0, atol=1e-12)
    assert len(vanilla.target_parameters(2)) == 2


def test_vanilla_sum_is_the_composed_conv_at_the_first_layer() -> None:
    # Eq. 3 through the combiner: with identity BNs, path p is conv(x, W_p) for the composed B_p-bit weight
    torch.manual_seed(8)
    bit_list = (2, 4, 8, 16)
    conv = OnionConv2d(3, 4, 3, padding=1, bit_list=bit_list).double()
    vanilla = PathBatchNorm(4, bit_list).double().eval()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    quantized = conv.quantize_inputs([x] * 4)
    paths = vanilla(conv(quantized, prequantized=True))
    for p in range(4):
        expected = conv.composed_conv(quantized[0], p) / (1 + EPS) ** 0.5
        assert torch.allclose(paths[p], expected, rtol=0, atol=1e-10)


def test_vanilla_and_psbn_agree_on_the_lowest_path_at_initialisation() -> None:
    outputs = _outputs(2, seed=9)
    assert torch.allclose(PathBatchNorm(3, (2, 4)).double()(outputs)[0],
                          PrecisionShiftBatchNorm(3, 2).double()(outputs)[0], rtol=0, atol=1e-12)
