"""PACT's clipping levels learn during training (PACT Sec. 3; USDN Sec. 2.1)."""

from __future__ import annotations

import pytest
import torch

from spaces import SearchSpace
from trainers.data import make_loader, synthetic_dataset
from trainers.networks import build_network, build_pretraining_network, start_from_full_precision
from trainers.training import TrainingSchedule, train_network


def _alphas(net: torch.nn.Module) -> torch.Tensor:
    return torch.stack([p.detach().clone().reshape(()) for n, p in net.named_parameters()
                        if n.endswith("act_quant.alpha") and n.startswith("blocks.")])


def _trained_alphas(space: SearchSpace, schedule: TrainingSchedule) -> tuple[torch.Tensor, torch.Tensor]:
    splits = synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=20, seed=0)
    loader = make_loader(splits.train, 32, shuffle=True, seed=0)
    torch.manual_seed(0)
    config = {d.label: d.choices[0] for d in space.dimensions}  # W2A2: where clipping matters most
    net = build_network(space, config)
    start_from_full_precision(net, build_pretraining_network(space), [x for x, _ in loader])
    before = _alphas(net)
    train_network(net, loader, schedule)
    return before, _alphas(net)


@pytest.mark.slow
def test_alpha_moves_with_its_own_parameter_group(tiny_space: SearchSpace) -> None:
    before, after = _trained_alphas(tiny_space, TrainingSchedule(epochs=3, lr=0.02))
    change = ((after - before).abs() / before).median()
    assert change > 0.02, f"median relative change of alpha {float(change):.4f}"


@pytest.mark.slow
def test_without_its_group_alpha_barely_moves(tiny_space: SearchSpace) -> None:
    # the weights' rate and decay, as before: the clipped inputs' gradient alone hardly moves alpha
    moved = _trained_alphas(tiny_space, TrainingSchedule(epochs=3, lr=0.02))
    still = _trained_alphas(tiny_space, TrainingSchedule(epochs=3, lr=0.02, alpha_lr_scale=1.0,
                                                         alpha_weight_decay=1e-4))
    # total movement over the 13 levels, not the median: in both runs the deepest levels get almost no gradient
    # at W2A2 in 3 epochs (changes of 1e-5..5e-3), so a median compares those near-zero changes, and it failed on
    # AVX-512 CPUs (0.0053 vs 0.0067) while the levels that learn moved 7x less without their group
    assert (still[1] - still[0]).abs().sum() < (moved[1] - moved[0]).abs().sum() / 3
