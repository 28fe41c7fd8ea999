"""USDN supernet: dedicated per-bit-width candidates, binary gates, single-path execution."""

from __future__ import annotations

import random

import pytest
import torch

from spaces import BitWidth, load_space
from trainers.networks import build_network, build_supernet, uniform_network
from trainers.training import multi_exit_loss


@pytest.fixture(scope="module")
def space():
    return load_space("tiny-digits")


def test_forward_gives_one_logit_set_per_exit(space) -> None:
    net = build_supernet(space)
    out = net(torch.rand(5, 1, 8, 8))
    assert out.shape == (3, 5, 10)


def test_every_layer_has_dedicated_candidates(space) -> None:
    net = build_supernet(space)
    layer = net.candidate_layers()["layer1.0.conv1"]
    assert len(layer.convs) == 4 and len(layer.bns) == 4
    ptrs = {conv.weight.data_ptr() for conv in layer.convs}
    assert len(ptrs) == 4  # no weight sharing across bit-widths (USDN Sec. 4.1)
    assert len(net.exit_heads) == 4  # 2 groups x 2 candidate locations


def test_only_the_sampled_path_gets_gradients(space) -> None:
    net = build_supernet(space)
    config = space.sample(random.Random(0))
    net.set_config(config)
    loss = multi_exit_loss(net(torch.rand(4, 1, 8, 8)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for name, layer in net.candidate_layers().items():
        for index, conv in enumerate(layer.convs):
            active = index == layer.active
            assert (conv.weight.grad is not None) == active, name
    active_heads = {b.replace(".", "_") for b in space.exit_blocks(config)}
    for key, head in net.exit_heads.items():
        has_grad = head.fc.linear.weight.grad is not None
        assert has_grad == (key in active_heads)


def test_set_config_selects_bits_and_inherits_fc_activation_bits(space) -> None:
    net = build_supernet(space)
    config = space.uniform((3, 3))
    net.set_config(config)
    assert all(layer.active_bits == BitWidth(3, 3) for name, layer in net.candidate_layers().items() if name != "conv1")
    assert net.candidate_layers()["conv1"].active_bits == BitWidth(8, 8)
    assert net.head.fc.active_bits == BitWidth(8, 3)


def test_fixed_network_has_single_candidates(space) -> None:
    config = space.sample(random.Random(5))
    net = build_network(space, config)
    assert all(len(layer.convs) == 1 for layer in net.candidate_layers().values())
    assert len(net.exit_heads) == 2
    assert net(torch.rand(2, 1, 8, 8)).shape == (3, 2, 10)


def test_full_precision_teacher_has_no_quantizers(space) -> None:
    config = space.sample(random.Random(5))
    net = build_network(space, config, full_precision=True)
    for layer in net.candidate_layers().values():
        assert layer.conv.w_bits is None and layer.conv.a_bits is None


def test_uniform_baseline_has_no_exits(space) -> None:
    net = uniform_network(space, (4, 4))
    assert net(torch.rand(2, 1, 8, 8)).shape == (1, 2, 10)
    with pytest.raises(ValueError):
        uniform_network(space, (6, 6))


def test_candidate_weights_are_independent_of_other_paths(space) -> None:
    """Switching gates changes the output; switching back restores it exactly."""
    net = build_supernet(space).eval()
    x = torch.rand(3, 1, 8, 8)
    first = space.uniform((2, 2))
    net.set_config(first)
    a = net(x)
    net.set_config(space.uniform((5, 5)))
    b = net(x)
    net.set_config(first)
    assert not torch.allclose(a, b)
    assert torch.equal(a, net(x))
