"""The grid controller: lexicographic order, wrap-around after the last point, exact resume, huge grids."""

from __future__ import annotations

import itertools
import json

import yaml

from nas.controllers import GridSearchController, TrialResult, create_controller, restore_controller
from spaces import load_space
from spaces.loader import parse_space

SMALL_SPACE = parse_space(yaml.safe_load("""
name: grid-3x3x3
backbone: {name: resnet_cifar, depth: 8, width: 8, input_size: 8, in_channels: 1, num_classes: 10}
bits: {granularity: block, choices: [[2, 2], [3, 3], [4, 4]]}
budget: {target_bops: 1.0e6}
"""))


def test_grid_order_wraps_resumes_and_decodes_huge_indices() -> None:
    labels = SMALL_SPACE.labels
    expected = [dict(zip(labels, values, strict=True))
                for values in itertools.product(*(d.choices for d in SMALL_SPACE.dimensions))]
    assert len(labels) == 3 and len(expected) == SMALL_SPACE.size == 27

    # Order: first dimension slowest; a full pass finds the optimum; then it starts over (budget > grid size).
    controller = create_controller("grid", SMALL_SPACE, seed=0)
    assert isinstance(controller, GridSearchController)
    asked = []
    for _ in range(27 + 5):
        trial = controller.ask()
        asked.append(trial.config)
        reward = sum(SMALL_SPACE.encode(trial.config)) / 6  # 1.0 at every dimension's last choice
        controller.tell(trial.trial_id, TrialResult.complete(reward, ee_accuracy=reward, expected_bops=1.0))
    assert asked[:27] == expected
    assert asked[27:] == expected[:5]
    assert controller.best() == (expected[-1], 1.0)

    # Exact resume mid-grid, outstanding trials included, across the wrap-around.
    original = create_controller("grid", SMALL_SPACE, seed=0)
    for _ in range(10):
        original.ask()
    for trial_id in (0, 3, 7):
        original.tell(trial_id, TrialResult.failed("preempted") if trial_id == 3 else
                      TrialResult.complete(0.5, ee_accuracy=0.5, expected_bops=1.0))
    restored = restore_controller(json.loads(json.dumps(original.state_dict())), SMALL_SPACE)
    assert restored.pending == original.pending == [1, 2, 4, 5, 6, 8, 9]
    remaining = [[c.ask().config for _ in range(30)] for c in (original, restored)]
    assert remaining[0] == remaining[1] == (expected * 3)[10:40]
    assert restored.state_dict() == original.state_dict()

    # A huge grid (ResNet-20, ~6e11 points): the 10**12-th ask is decoded in mixed radix, never enumerated.
    space = load_space("usdn-resnet20-cifar10")
    assert space.size < 10**12
    huge = create_controller("grid", space)
    state = huge.state_dict()
    huge.load_state_dict({**state, "next_trial_id": 10**12})
    trial = huge.ask()
    assert trial.trial_id == 10**12
    position = 0
    for dim, index in zip(space.dimensions, space.encode(trial.config), strict=True):
        position = position * dim.size + index
    assert position == 10**12 % space.size
    huge.load_state_dict({**state, "next_trial_id": space.size - 1})
    assert huge.ask().config == {d.label: d.choices[-1] for d in space.dimensions}
