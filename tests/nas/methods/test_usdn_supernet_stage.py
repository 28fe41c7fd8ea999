"""The supernet stage as USDN's supplement trains it: FP pre-training, candidates from it, then the supernet."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from nas.cli.supernet_options import INIT_MODES as CLI_INIT_MODES
from nas.methods.usdn.supernet_stage import train_supernet_state
from nas.pipeline.search_job import SearchJob
from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.data import calibration_inputs, materialize
from trainers.evaluation import ConfigEvaluator
from trainers.networks import INIT_MODES, build_supernet


def test_cli_and_trainers_name_the_same_init_modes() -> None:
    assert CLI_INIT_MODES == INIT_MODES


def _per_exit_accuracy(space: SearchSpace, data: DataSpec, state: dict, paths: int = 24) -> list[float]:
    """Held-out accuracy of each exit (validation and test images: 504 digits, so one image is 0.2 points),
    averaged over random paths, BN recalibrated as the search does."""
    splits = data.load()
    net = build_supernet(space)
    net.load_state_dict(state)
    (val_x, val_y), (test_x, test_y) = materialize(splits.val), materialize(splits.test)
    evaluator = ConfigEvaluator(space, net, torch.cat([val_x, test_x]), torch.cat([val_y, test_y]),
                                calibration_inputs=calibration_inputs(splits.train, 256, 0))
    rng = random.Random(0)
    runs = [evaluator.early_exit(space.sample(rng)).per_exit_accuracy for _ in range(paths)]
    return [sum(column) / paths for column in zip(*runs, strict=True)]


@pytest.mark.slow
def test_default_schedule_gives_exits_that_improve_with_depth(tiny_space: SearchSpace) -> None:
    """Issue: independent candidate starts left the final exit the worst (0.97 / 0.96 / 0.83 training
    accuracy); after the default schedule each exit's accuracy is non-decreasing with depth within 1 point.

    The accuracy of an exit is the mean over seeds 0-2. One seed is not enough on this tiny config: its exits sit
    within a point of each other (98.1 / 97.9 / 97.7 % over seeds 0-9), and seed 0 alone dips 1.01 points from the
    first exit to the second with AVX-512 kernels but not with AVX2. The mean of three seeds tests the claim, not
    one draw of the kernels' rounding.
    """
    job = SearchJob("tiny-digits", [])
    data = DataSpec("digits", None, 0, {})
    per_seed = []
    for seed in range(3):
        torch.manual_seed(seed)
        out = train_supernet_state(tiny_space, data, job.supernet, seed, 2, verbose=False, init=job.init,
                                   pretrain=job.pretrain)
        assert out["pretrained"] is not None and len(out["pretrain_epochs"]) == job.pretrain.epochs
        per_seed.append(_per_exit_accuracy(tiny_space, data, out["state"]))
    accuracy = [sum(column) / len(per_seed) for column in zip(*per_seed, strict=True)]
    assert all(deeper >= shallower - 0.01 for shallower, deeper in itertools.pairwise(accuracy)), per_seed
    assert accuracy[-1] > 0.9, per_seed


@pytest.mark.slow
def test_independent_starts_remain_for_ablations(tiny_space: SearchSpace) -> None:
    from nas.methods.usdn.supernet_stage import TrainingSchedule

    data = DataSpec("synthetic", None, 0, {"num_classes": 10, "in_channels": 1, "input_size": 8,
                                           "samples_per_class": 8})
    out = train_supernet_state(tiny_space, data, TrainingSchedule(epochs=1), 0, 1, verbose=False, init="independent")
    assert out["pretrained"] is None and out["pretrain_epochs"] == []
    layer = "blocks.1.conv1.convs.{}.weight"
    assert not torch.equal(out["state"][layer.format(0)], out["state"][layer.format(1)])
    with pytest.raises(ValueError, match="init must be one of"):
        train_supernet_state(tiny_space, data, TrainingSchedule(epochs=1), init="warm")
