"""Per-path BN recalibration before a supernet path is scored."""

from __future__ import annotations

import random

import torch

from spaces import SearchSpace
from trainers.evaluation import ConfigEvaluator, recalibrate_batch_norm
from trainers.networks import build_supernet


def test_statistics_are_those_of_the_path_on_the_calibration_images(tiny_space: SearchSpace) -> None:
    torch.manual_seed(0)
    net = build_supernet(tiny_space)
    config = tiny_space.sample(random.Random(1))
    net.set_config(config)
    images = torch.rand(96, 1, 8, 8)
    bn = net.candidate_layers()["layer1.0.conv1"].bn
    seen: list[torch.Tensor] = []
    handle = bn.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    count = recalibrate_batch_norm(net, images, batch_size=32)
    handle.remove()
    assert count == len(net.active_batch_norms()) > 12
    inputs = torch.cat(seen)
    assert torch.allclose(bn.running_mean, inputs.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not net.training and bn.momentum == 0.1


def test_scores_do_not_depend_on_what_was_evaluated_before(tiny_space: SearchSpace) -> None:
    torch.manual_seed(0)
    net = build_supernet(tiny_space)
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    evaluator = ConfigEvaluator(tiny_space, net, x, y, calibration_inputs=torch.rand(64, 1, 8, 8))
    a, b = tiny_space.sample(random.Random(2)), tiny_space.sample(random.Random(3))
    first = evaluator.logits(a)
    evaluator.logits(b)
    assert torch.allclose(evaluator.logits(a), first, atol=1e-6)
    assert evaluator.last_recalibration_s > 0
    plain = ConfigEvaluator(tiny_space, build_supernet(tiny_space), x, y)
    assert plain.evaluate(a).bn_recalibration_s == 0.0
