"""TrainingSchedule beyond one cosine schedule: multistep milestones, iteration budgets, trainable prefixes,
validation, and the plain-JSON round trip (issue 14, item 5)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
from torch import nn

from trainers.training import TrainingSchedule

OLD_DEFAULT_REPR = ("TrainingSchedule(epochs=10, lr=0.1, momentum=0.9, weight_decay=0.0001, batch_size=64, "
                    "grad_clip=5.0, alpha_lr_scale=10.0, alpha_weight_decay=0.001)")


class GatedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.gates = nn.Linear(4, 1)
        self.gates2 = nn.Linear(4, 1)  # shares the prefix "gates" as text, not as a module


def test_defaults_and_an_old_asdict_load_unchanged() -> None:
    old = {"epochs": 3, "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4, "batch_size": 32, "grad_clip": 5.0,
           "alpha_lr_scale": 10.0, "alpha_weight_decay": 1e-3}  # asdict of a schedule before the new fields
    schedule = TrainingSchedule(**old)
    assert (schedule.scheduler, schedule.milestones, schedule.gamma, schedule.iterations, schedule.trainable) == (
        "cosine", (), 0.1, None, "all")
    # the repr (part of the retraining checkpoints' fingerprints) does not show defaulted new fields
    assert repr(TrainingSchedule()) == OLD_DEFAULT_REPR
    assert "milestones=(0.5,)" in repr(TrainingSchedule(scheduler="multistep", milestones=[0.5]))


@pytest.mark.parametrize("schedule", [
    TrainingSchedule(),
    TrainingSchedule(scheduler="multistep", milestones=[0.5, 0.75, 0.9], gamma=0.1, epochs=200),
    TrainingSchedule(iterations=64000, scheduler="multistep", milestones=(0.5, 0.75), trainable=["gates"]),
    TrainingSchedule(trainable="gates", grad_clip=None),
])
def test_json_round_trip(schedule: TrainingSchedule) -> None:
    again = TrainingSchedule(**json.loads(json.dumps(asdict(schedule))))
    assert again == schedule and repr(again) == repr(schedule)
    assert isinstance(again.milestones, tuple)


@pytest.mark.parametrize(("options", "message"), [
    ({"scheduler": "step"}, "scheduler must be one of cosine, multistep"),
    ({"scheduler": "multistep"}, "needs milestones"),
    ({"milestones": (0.5,)}, "need scheduler 'multistep'"),
    ({"scheduler": "multistep", "milestones": (0.5, 1.0)}, r"fractions of the total steps in \(0, 1\)"),
    ({"scheduler": "multistep", "milestones": (0.0,)}, r"in \(0, 1\)"),
    ({"scheduler": "multistep", "milestones": (0.75, 0.5)}, "strictly increasing"),
    ({"scheduler": "multistep", "milestones": "0.5"}, "must be a list"),
    ({"gamma": 0.0}, r"gamma must be a number in \(0, 1\]"),
    ({"gamma": float("nan")}, "gamma"),
    ({"iterations": 0}, "iterations must be an integer >= 1"),
    ({"iterations": 2.5}, "iterations must be an integer"),
    ({"iterations": True}, "iterations must be an integer"),
    ({"trainable": ()}, "trainable must be 'all' or a non-empty list"),
    ({"trainable": ["gates", ""]}, "module-name prefixes"),
    ({"trainable": ["gates."]}, "module-name prefixes"),
])
def test_invalid_options_are_value_errors(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingSchedule(**options)


def test_milestone_steps_of_the_papers() -> None:
    dpoq = TrainingSchedule(scheduler="multistep", milestones=(0.5, 0.75, 0.9), epochs=200)
    assert dpoq.milestone_steps(dpoq.total_steps(1)) == [100, 150, 180]  # DPOQ: /10 at epochs 100/150/180
    assert dpoq.milestone_steps(dpoq.total_steps(7)) == [700, 1050, 1260]
    dfs = TrainingSchedule(scheduler="multistep", milestones=(0.5, 0.75), iterations=64000)
    assert dfs.total_steps(391) == 64000 and dfs.milestone_steps(64000) == [32000, 48000]  # DFS Sec. 4
    assert dfs.num_epochs(391) == 164 and TrainingSchedule(epochs=3).num_epochs(391) == 3
    assert TrainingSchedule(scheduler="multistep", milestones=(0.01,)).milestone_steps(10) == [1]


def test_multistep_learning_rate_at_each_milestone() -> None:
    net = nn.Linear(2, 2)
    schedule = TrainingSchedule(lr=0.1, scheduler="multistep", milestones=(0.5, 0.75, 0.9), iterations=20)
    optimizer = schedule.optimizer(net)
    scheduler = schedule.lr_scheduler(optimizer, steps_per_epoch=3)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # milestone steps 10, 15, 18: step k (from 0) runs at 0.1 * 0.1 ** (number of milestones <= k)
    expected = [0.1] * 10 + [0.01] * 5 + [0.001] * 3 + [0.0001] * 2
    assert rates == pytest.approx(expected, rel=1e-9)


def test_cosine_stays_todays_schedule() -> None:
    net = nn.Linear(2, 2)
    schedule = TrainingSchedule(epochs=2, lr=0.1)
    ours = schedule.lr_scheduler(schedule.optimizer(net), steps_per_epoch=5)
    assert isinstance(ours, torch.optim.lr_scheduler.CosineAnnealingLR) and ours.T_max == 10
    budget = TrainingSchedule(epochs=2, lr=0.1, iterations=7).lr_scheduler(schedule.optimizer(net), 5)
    assert isinstance(budget, torch.optim.lr_scheduler.CosineAnnealingLR) and budget.T_max == 7


def test_trainable_prefixes_select_modules_and_the_optimizer() -> None:
    net = GatedNet()
    schedule = TrainingSchedule(trainable=["gates"])
    assert [n for n, _ in schedule.trainable_parameters(net)] == ["gates.weight", "gates.bias"]
    assert [n for n, _ in schedule.frozen_parameters(net)] == ["backbone.weight", "backbone.bias", "gates2.weight",
                                                                "gates2.bias"]
    optimized = {id(p) for group in schedule.optimizer(net).param_groups for p in group["params"]}
    assert optimized == {id(net.gates.weight), id(net.gates.bias)}
    assert len(TrainingSchedule().optimizer(net).param_groups[0]["params"]) == 6
    assert TrainingSchedule().frozen_parameters(net) == []
    with pytest.raises(ValueError, match="trainable prefix 'gate' matches no parameter of GatedNet"):
        TrainingSchedule(trainable=("gate",)).optimizer(net)
