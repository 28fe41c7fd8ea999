"""Loading spaces: presets, user files, and one-line errors for bad input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from spaces import SpaceError, list_presets, load_space
from spaces.loader import preset_text

BASE = yaml.safe_load(preset_text("tiny-digits"))


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def edited(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node[key]
        if value is None:
            node.pop(keys[-1])
        else:
            node[keys[-1]] = value
    return data


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_loads_and_samples_valid_configs(name: str) -> None:
    space = load_space(name)
    rng = random.Random(0)
    for _ in range(5):
        config = space.sample(rng)
        assert space.validate(config) == config
        assert space.decode(space.encode(config)) == config
        assert space.parse(space.format(config)) == config


def test_user_copy_of_a_preset_loads(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, BASE))
    assert space.name == "tiny-digits"
    assert space.source == str(tmp_path / "space.yaml")


def test_tiny_space_shape() -> None:
    space = load_space("tiny-digits")
    assert len(space.bit_dimensions) == 12  # ResNet-14: 6 blocks x 2 convs
    assert [d.label for d in space.exit_dimensions] == ["group0.exit", "group1.exit"]
    assert space.size == 4**12 * 2 * 2
    assert space.num_exits == 3


def test_block_granularity_covers_shortcut() -> None:
    space = load_space("usdn-resnet18-imagenet")
    dim = space.dimension("layer2.0.bits")
    assert dim.layers == ("layer2.0.conv1", "layer2.0.conv2", "layer2.0.downsample.0")
    assert len(space.bit_dimensions) == 8


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"backbone__name": "vgg99"}, "backbone.name"),
        ({"bits__choices": [[0, 4]]}, "bits.choices"),
        ({"bits__choices": [[4, 33]]}, "bits.choices"),
        ({"bits__choices": []}, "bits.choices"),
        ({"bits__first": [8, 64]}, "bits.first"),
        ({"exits__candidates": {0: []}}, "exits.candidates.0"),
        ({"exits__candidates": {0: ["layer3.0"]}}, "exits.candidates.0"),
        ({"exits__groups": [7]}, "exits.groups"),
        ({"budget__target_bops": 0}, "budget.target_bops"),
        ({"budget__target_bops": -5}, "budget.target_bops"),
        ({"budget__threshold": 0}, "budget.threshold"),
        ({"budget__threshold": 1.5}, "budget.threshold"),
        ({"budget__tradeoff": -0.1}, "budget.tradeoff"),
        ({"budget__target_bops": "lots"}, "budget.target_bops"),
        ({"budget": None}, "budget"),
        ({"backbone__depth": 15}, "backbone.depth"),
        ({"bits__granularity": "channel"}, "bits.granularity"),
    ],
)
def test_bad_fields_name_field_and_file(tmp_path: Path, changes: dict, field: str) -> None:
    path = write(tmp_path, edited(**changes))
    with pytest.raises(SpaceError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert field in message
    assert str(path) in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="unknown keys"):
        load_space(write(tmp_path, {**BASE, "bitz": 3}))


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match=r"malformed YAML at line \d+"):
        load_space(write(tmp_path, "name: x\nbits: [1, 2\nbudget: {"))


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="mapping"):
        load_space(write(tmp_path, "- just\n- a list\n"))


def test_unknown_file_lists_presets() -> None:
    with pytest.raises(SpaceError, match="tiny-digits"):
        load_space("does-not-exist.yaml")


def test_validate_rejects_bad_configs() -> None:
    space = load_space("tiny-digits")
    config = space.sample(random.Random(1))
    with pytest.raises(SpaceError, match="missing"):
        space.validate({k: v for k, v in config.items() if k != "group0.exit"})
    with pytest.raises(SpaceError, match="not one of"):
        space.validate({**config, "group0.exit": "layer3.0"})
    with pytest.raises(SpaceError, match="not one of"):
        space.validate({**config, "layer1.0.conv1.bits": (8, 8)})
    assert space.validate({**config, "layer1.0.conv1.bits": "W4A4"})["layer1.0.conv1.bits"] == (4, 4)
