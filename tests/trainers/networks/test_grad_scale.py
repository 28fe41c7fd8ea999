"""Gradient scaling on cross-path edges (DPOQ Eq. 6): identity forward, backward x lambda; the three training
modes; the gradient of a higher loss into lower-path parameters is exactly lambda = B_s / B_p times the joint one,
and path p's own parameters (PSBN's gamma_{s->p} included) keep the unscaled gradient."""

from __future__ import annotations

import copy

import pytest
import torch

from spaces.backbones.resnet_cifar import resnet_cifar
from trainers.networks.grad_scale import (
    TRAINING_MODES,
    CrossPathScales,
    GradScale,
    cross_path_scale,
    grad_scale,
)
from trainers.networks.onion_network import OnionNetwork
from trainers.networks.psbn import PathBatchNorm, PrecisionShiftBatchNorm

BIT_LIST = (2, 4, 8, 16)


def test_grad_scale_is_the_identity_forward_and_scales_the_gradient() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    y = grad_scale(x, 0.3)
    assert torch.equal(y, x)
    g = torch.randn(3, 4)
    (y * g).sum().backward()
    assert torch.equal(x.grad, g * 0.3)  # type: ignore[arg-type]
    assert grad_scale(x, 1) is x
    assert not grad_scale(x, 0).requires_grad
    module = GradScale(0.25)
    x.grad = None
    (module(x) * g).sum().backward()
    assert torch.equal(x.grad, g * 0.25)  # type: ignore[arg-type]


def test_mode_lambdas() -> None:
    for p in range(4):
        for s in range(p + 1):
            assert cross_path_scale("joint", BIT_LIST, s, p) == 1.0
            assert cross_path_scale("separate", BIT_LIST, s, p) == (1.0 if s == p else 0.0)
            assert cross_path_scale("grad_scale", BIT_LIST, s, p) == BIT_LIST[s] / BIT_LIST[p]
    scales = CrossPathScales(BIT_LIST)
    assert scales.mode == "grad_scale" and scales.scale(0, 3) == 2 / 16
    # chains compose: s -> q -> p carries B_s/B_q * B_q/B_p = B_s/B_p
    assert scales.scale(0, 1) * scales.scale(1, 3) == scales.scale(0, 3)
    scales.mode = "separate"
    assert scales.scale(0, 3) == 0.0
    with pytest.raises(ValueError, match="training mode"):
        scales.mode = "distill"
    with pytest.raises(ValueError):
        cross_path_scale("joint", BIT_LIST, 2, 1)
    with pytest.raises(ValueError):
        scales.scale(0, 4)


@pytest.mark.parametrize("combiner", ["psbn", "vanilla"])
def test_combiner_scales_only_the_cross_path_edge(combiner: str) -> None:
    grads: dict[str, tuple[torch.Tensor | None, ...]] = {}
    for mode in TRAINING_MODES:
        torch.manual_seed(0)
        scales = CrossPathScales((2, 8), mode)
        module = PrecisionShiftBatchNorm(3, 2, scales) if combiner == "psbn" else PathBatchNorm(3, (2, 8), scales)
        torch.manual_seed(1)
        lower = torch.randn(4, 3, 5, 5, requires_grad=True)
        higher = torch.randn(4, 3, 5, 5, requires_grad=True)
        y_high = module([lower, higher])[1]
        (y_high * torch.randn(4, 3, 5, 5)).sum().backward()
        own = module.target_parameters(1)
        grads[mode] = (lower.grad, higher.grad, *(param.grad for param in own))
    joint, scaled, separate = grads["joint"], grads["grad_scale"], grads["separate"]
    assert torch.allclose(scaled[0], joint[0] * 0.25, rtol=1e-6, atol=1e-7)  # type: ignore[operator]
    assert not torch.allclose(scaled[0], joint[0])  # type: ignore[arg-type]
    assert separate[0] is None
    for index in range(1, len(joint)):  # path 1's own input and affines (gamma_{0->1} included): unscaled
        assert torch.allclose(scaled[index], joint[index], rtol=1e-6, atol=1e-7)  # type: ignore[arg-type]
        assert torch.allclose(separate[index], joint[index], rtol=1e-6, atol=1e-7)  # type: ignore[arg-type]


def _path_grads(net: OnionNetwork, x: torch.Tensor, y: torch.Tensor, p: int) -> list[list[torch.Tensor | None]]:
    """Gradients of path p's cross-entropy alone (paths 0..p run), grouped by the path owning each parameter."""
    net.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(net(x, precisions=p + 1)[p], y).backward()
    return [[param.grad for param in net.path_parameters(q)] for q in range(net.num_precisions)]


def _assert_scaled(got: torch.Tensor, reference: torch.Tensor, lam: float, exact: bool) -> None:
    if exact:  # a power-of-two lambda commutes with every floating-point rounding: bit-exact
        assert torch.equal(got, lam * reference)
    else:
        assert torch.allclose(got, lam * reference, rtol=1e-4, atol=1e-5 * reference.abs().max().item())


@pytest.mark.parametrize(("bit_list", "psbn", "classifier"), [
    (BIT_LIST, True, "per_path"), (BIT_LIST, False, "per_path"), (BIT_LIST, True, "onion"), ((2, 3, 4), True, "onion")])
def test_network_gradient_of_a_higher_loss_into_lower_paths_is_lb_over_hb_times_joint(
        bit_list: tuple[int, ...], psbn: bool, classifier: str) -> None:
    torch.manual_seed(0)
    joint = OnionNetwork(resnet_cifar(depth=8, width=4, input_size=8, in_channels=1, num_classes=5), bit_list,
                         psbn=psbn, mode="joint", classifier=classifier)  # type: ignore[arg-type]
    scaled, separate = copy.deepcopy(joint), copy.deepcopy(joint)
    scaled.mode, separate.mode = "grad_scale", "separate"
    exact = bit_list == BIT_LIST
    x, y = torch.rand(6, 1, 8, 8), torch.randint(0, 5, (6,))
    count = len(bit_list)
    for p in range(count):
        reference = _path_grads(joint, x, y, p)
        got = _path_grads(scaled, x, y, p)
        cut = _path_grads(separate, x, y, p)
        for q in range(count):
            for g_joint, g_scaled, g_cut in zip(reference[q], got[q], cut[q], strict=True):
                if q > p:  # a higher path does not run
                    assert g_joint is None and g_scaled is None and g_cut is None
                    continue
                assert g_joint is not None and g_scaled is not None
                # Eq. 6: lambda = lb/hb into a lower path; path p's own parameters (gamma_{s->p} included): 1
                _assert_scaled(g_scaled, g_joint, bit_list[q] / bit_list[p], exact)
                if q < p:
                    assert g_cut is None or not g_cut.any()  # separate: lambda = 0
                else:
                    assert g_cut is not None
                    _assert_scaled(g_cut, g_joint, 1.0, exact)
            if q <= p:  # the gradient exists, and for a lower path the scaled one differs: the check can fail
                flat_joint = torch.cat([g.flatten() for g in reference[q]])  # type: ignore[union-attr]
                flat_scaled = torch.cat([g.flatten() for g in got[q]])  # type: ignore[union-attr]
                assert flat_joint.abs().max() > 0
                assert (q == p) == torch.equal(flat_scaled, flat_joint)
