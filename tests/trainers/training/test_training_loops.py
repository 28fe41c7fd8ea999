"""Training loops: CE training learns, KD leaves the teacher alone, logits collection, exact resume."""

from __future__ import annotations

import random

import pytest
import torch

from spaces import SearchSpace
from trainers.data import DatasetSplits, make_loader, materialize, synthetic_dataset
from trainers.networks import build_network
from trainers.training import TrainingSchedule, collect_logits, train_network, train_student_kd
from trainers.training.loops import LoopCheckpoint

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    return synthetic_dataset(num_classes=10, in_channels=1, input_size=8, samples_per_class=8)


@pytest.fixture(scope="module")
def config(tiny_space: SearchSpace) -> dict:
    return tiny_space.sample(random.Random(1))


def fixed_batches(splits: DatasetSplits, size: int = 20) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = materialize(splits.train)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


def test_train_network_lowers_the_loss(tiny_space: SearchSpace, config: dict, splits: DatasetSplits) -> None:
    torch.manual_seed(0)
    net = build_network(tiny_space, config)
    epochs: list[int] = []
    log = train_network(net, make_loader(splits.train, 20, True, 0), TrainingSchedule(epochs=4, lr=0.02),
                        device=CPU, on_epoch=lambda epoch, stats: epochs.append(epoch))
    assert epochs == [0, 1, 2, 3] and len(log.epochs) == 4
    assert log.epochs[-1]["loss"] < log.epochs[0]["loss"]
    assert {"train_acc_exit0", "train_acc_exit1", "train_acc_exit2"} <= set(log.epochs[0])


def test_collect_logits_stacks_exits_in_split_order(tiny_space: SearchSpace, config: dict,
                                                    splits: DatasetSplits) -> None:
    net = build_network(tiny_space, config).train()
    loader = make_loader(splits.test, 7, shuffle=False, seed=0)
    logits, labels = collect_logits(net, loader, CPU)
    x, y = materialize(splits.test)
    assert logits.shape == (3, len(y), 10) and logits.dtype == torch.float32
    assert torch.equal(labels, y) and not net.training
    torch.testing.assert_close(logits, net(x))


def test_kd_trains_the_student_and_leaves_the_teacher(tiny_space: SearchSpace, config: dict,
                                                      splits: DatasetSplits) -> None:
    torch.manual_seed(0)
    teacher = build_network(tiny_space, config, full_precision=True)
    student = build_network(tiny_space, config)
    before_teacher = {k: v.clone() for k, v in teacher.state_dict().items()}
    before_student = {k: v.clone() for k, v in student.state_dict().items()}
    log = train_student_kd(student, teacher, fixed_batches(splits), TrainingSchedule(epochs=1, lr=0.02),
                           device=CPU)
    assert len(log.epochs) == 1 and not teacher.training
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before_teacher.items())
    assert any(not torch.equal(v, student.state_dict()[k]) for k, v in before_student.items())


@pytest.mark.parametrize("kd", [False, True])
def test_resumed_loop_equals_uninterrupted(tiny_space: SearchSpace, config: dict, splits: DatasetSplits,
                                           kd: bool) -> None:
    batches, schedule = fixed_batches(splits), TrainingSchedule(epochs=3, lr=0.02)
    torch.manual_seed(0)
    teacher = build_network(tiny_space, config, full_precision=True)

    def train(net: torch.nn.Module, **kwargs: object) -> list[dict[str, float]]:
        if kd:
            return train_student_kd(net, teacher, batches, schedule, device=CPU, **kwargs).epochs  # type: ignore[arg-type]
        return train_network(net, batches, schedule, device=CPU, **kwargs).epochs  # type: ignore[arg-type]

    torch.manual_seed(1)
    whole = build_network(tiny_space, config)
    whole_log = train(whole)

    torch.manual_seed(1)
    part = build_network(tiny_space, config)
    saved: list[tuple[LoopCheckpoint, dict[str, torch.Tensor]]] = []

    class Stop(Exception):
        pass

    def stop_after_first(epoch: int, stats: dict[str, float]) -> None:
        raise Stop

    def keep(checkpoint: LoopCheckpoint) -> None:
        saved.append((checkpoint, {k: v.clone() for k, v in part.state_dict().items()}))

    with pytest.raises(Stop):
        train(part, on_epoch=stop_after_first, on_checkpoint=keep)
    checkpoint, weights = saved[-1]
    assert checkpoint.epoch == 1 and len(checkpoint.log) == 1  # saved before on_epoch raised

    torch.manual_seed(1)
    resumed = build_network(tiny_space, config)
    resumed.load_state_dict(weights)
    calls: list[int] = []
    resumed_log = train(resumed, resume=LoopCheckpoint.from_dict(checkpoint.as_dict()),
                        on_epoch=lambda epoch, stats: calls.append(epoch))
    assert calls == [1, 2] and resumed_log == whole_log
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in whole.state_dict().items())


def test_resume_past_the_schedule_raises(tiny_space: SearchSpace, config: dict, splits: DatasetSplits) -> None:
    net = build_network(tiny_space, config)
    bad = LoopCheckpoint(epoch=5, optimizer={}, scheduler={}, log=[])
    with pytest.raises(ValueError, match="cannot resume at epoch 5"):
        train_network(net, fixed_batches(splits), TrainingSchedule(epochs=2), device=CPU, resume=bad)
