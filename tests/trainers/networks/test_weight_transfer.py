"""Supernet and fixed networks started from a full-precision network (USDN supplement App. A)."""

from __future__ import annotations

import torch

from spaces import SearchSpace
from trainers.networks import (
    build_network,
    build_pretraining_network,
    build_supernet,
    calibrate_activation_clipping,
    collect_layer_inputs,
    initialise_from,
    share_candidates,
    start_from_full_precision,
)
from trainers.networks.candidate_conv import CandidateConvBN


def _fp(space: SearchSpace) -> torch.nn.Module:
    torch.manual_seed(1)
    net = build_pretraining_network(space)
    for module in net.modules():  # non-default BN statistics, so a copy is visible
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return net


def test_pretraining_network_is_full_precision_with_every_ic(tiny_space: SearchSpace) -> None:
    net = build_pretraining_network(tiny_space)
    assert net.full_precision
    assert len(net.exit_heads) == sum(d.size for d in tiny_space.exit_dimensions)
    net.set_config(tiny_space.sample(__import__("random").Random(0)))  # any bit-widths select the FP layer
    assert net(torch.rand(2, 1, 8, 8)).shape == (tiny_space.num_exits, 2, 10)


def test_every_candidate_starts_from_the_full_precision_weights(tiny_space: SearchSpace) -> None:
    fp = _fp(tiny_space)
    torch.manual_seed(2)
    supernet = build_supernet(tiny_space)
    initialise_from(supernet, fp)
    source = dict(fp.named_modules())
    checked = 0
    for name, module in supernet.named_modules():
        if isinstance(module, CandidateConvBN):
            origin = source[name]
            for k in range(len(module.candidates)):
                assert torch.equal(module.convs[k].weight, origin.convs[0].weight)
                assert torch.equal(module.bns[k].running_mean, origin.bns[0].running_mean)
                assert torch.equal(module.bns[k].weight, origin.bns[0].weight)
                checked += 1
    assert checked > 12 * 4
    fp_state, super_state = fp.state_dict(), supernet.state_dict()
    fc = "head.fc.linear.weight"
    assert torch.equal(super_state[fc], fp_state[fc])


def test_fixed_network_takes_its_ics_from_the_pretraining_network(tiny_space: SearchSpace) -> None:
    fp = _fp(tiny_space)
    config = tiny_space.sample(__import__("random").Random(3))
    teacher = build_network(tiny_space, config, full_precision=True)
    initialise_from(teacher, fp)
    fp.set_config(config)
    teacher.eval(), fp.eval()
    x = torch.rand(4, 1, 8, 8)
    assert torch.allclose(teacher(x), fp(x), atol=1e-5)


def test_shared_and_independent_starts(tiny_space: SearchSpace) -> None:
    torch.manual_seed(0)
    independent = build_supernet(tiny_space)
    layer = independent.candidate_layers()["layer1.0.conv1"]
    assert not torch.equal(layer.convs[0].weight, layer.convs[1].weight)
    share_candidates(independent)
    assert all(torch.equal(layer.convs[0].weight, layer.convs[k].weight) for k in range(len(layer.candidates)))


def test_alphas_are_fitted_per_candidate_bit_width(tiny_space: SearchSpace) -> None:
    fp = _fp(tiny_space)
    supernet = build_supernet(tiny_space)
    initialise_from(supernet, fp)
    inputs = collect_layer_inputs(fp, [torch.rand(32, 1, 8, 8)])
    assert calibrate_activation_clipping(supernet, inputs) > 12 * 4
    layer = supernet.candidate_layers()["layer2.0.conv1"]
    alphas = [float(conv.act_quant.alpha.detach()) for conv in layer.convs]
    assert all(a != 6.0 for a in alphas)
    assert alphas == sorted(alphas)  # candidates (2,2) .. (5,5): more bits, later clip


def test_student_starts_from_its_teacher(tiny_space: SearchSpace) -> None:
    config = tiny_space.sample(__import__("random").Random(4))
    torch.manual_seed(5)
    teacher = build_network(tiny_space, config, full_precision=True)
    student = build_network(tiny_space, config)
    start_from_full_precision(student, teacher, [torch.rand(16, 1, 8, 8)])
    t_state, s_state = teacher.state_dict(), student.state_dict()
    weights = [k for k in t_state if k.endswith("conv.weight") or k.endswith("convs.0.weight")]
    assert weights and all(torch.equal(t_state[k], s_state[k]) for k in weights)
    assert float(student.candidate_layers()["layer1.0.conv1"].conv.act_quant.alpha.detach()) != 6.0
