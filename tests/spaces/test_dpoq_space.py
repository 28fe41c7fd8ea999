"""DPOQ spaces (issue 15): the precision:/inference: sections instead of bits:/exits:, one classifier per
precision, the per-precision costs of claim P2, and one-line errors naming file and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from spaces import SearchSpace, SpaceError
from spaces.backbones import create_backbone
from spaces.cost import average_bits, precision_classifier_costs
from spaces.loader import parse_space, preset_text
from spaces.methods import DpoqOptions

BASE = yaml.safe_load(preset_text("dpoq-digits"))


def _space(**changes: object) -> dict:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_the_digits_preset_is_a_dpoq_space_with_one_exit_per_precision() -> None:
    space: SearchSpace = parse_space(_space(), source="dpoq.yaml")
    assert space.method == "dpoq" and space.bit_dimensions == () and space.exit_dimensions == ()
    assert space.options == DpoqOptions()  # the preset spells out the defaults
    assert space.num_exits == 4
    assert space.labels == ("exit0.threshold", "exit1.threshold", "exit2.threshold")  # every precision but the last


def test_sections_are_optional_and_default_to_the_paper_setting() -> None:
    space = parse_space(_space(precision=None, inference=None), source="dpoq.yaml")
    assert space.options == DpoqOptions(bit_list=(2, 4, 8, 16), a_bits=8, bn="psbn", training="grad_scale",
                                        strategy="normalized", ensemble=True)


@pytest.mark.parametrize(("changes", "field", "needle"), [
    ({"bits": {"choices": [[4, 4]]}}, "bits", "method dpoq fixes its network"),
    ({"exits": {"groups": [0]}}, "exits", "it has no exits section"),
    ({"precision": {"bit_list": [4, 2]}}, "precision.bit_list", "strictly increasing"),
    ({"precision": {"bit_list": [2, 40]}}, "precision.bit_list", "integer in 1..32"),
    ({"precision": {"bit_list": []}}, "precision.bit_list", "non-empty list"),
    ({"precision": {"bn": "group"}}, "precision.bn", "psbn, per_path"),
    ({"precision": {"training": "scaled"}}, "precision.training", "grad_scale, joint, separate"),
    ({"precision": {"activation_bit": 8}}, "precision", "unknown keys ['activation_bit']"),
    ({"inference": {"strategy": "precision_first"}}, "inference.strategy", "normalized, confidence_first"),
    ({"inference": {"ensemble": "yes"}}, "inference.ensemble", "true or false"),
    ({"gating": {}}, "space", "unknown keys ['gating']"),
    ({"search": {"target_compute": [0.5]}}, "search.target_compute", "method dpoq cannot search"),
    ({"search": {"training": ["scaled"]}}, "search.training", "one of grad_scale, joint, separate, got 'scaled'"),
    ({"search": {"bit_list": [[2, 4, 8]]}}, "search.bit_list", "needs 4 precisions"),
    ({"search": {"bit_list": ["8,4,2,1"]}}, "search.bit_list", "strictly increasing list of bit-widths"),
    ({"search": {"bn": []}}, "search.bn", "non-empty list"),
    ({"search": {"training": {"values": ["joint"], "phase": "inference"}}}, "search.training.phase",
     "searches training in the train phase and cannot honour phase 'inference'"),
])
def test_bad_dpoq_sections_are_one_line_naming_file_and_field(changes: dict, field: str, needle: str) -> None:
    with pytest.raises(SpaceError) as raised:
        parse_space(_space(**changes), source="bad.yaml")
    text = str(raised.value)
    assert "bad.yaml" in text and field in text and needle in text and "\n" not in text, text


def test_training_settings_are_train_phase_knobs_with_text_columns() -> None:
    space = parse_space(_space(search={"training": ["grad_scale", "joint"], "threshold": [0.5, 0.9]}), "a.yaml")
    knob = space.dimension("precision.training")
    assert knob.kind == "setting" and knob.phase == "train" and knob.choices == ("grad_scale", "joint")
    assert space.train_labels == ("precision.training",)
    assert space.structural_labels == ("precision.training",)  # a forward pass depends on the trained network
    assert space.uniform((4, 4))["precision.training"] == "grad_scale"  # the space's own setting
    assert space.format(space.parse({"precision.training": "joint", "budget.threshold": "0.9"})) == \
        {"precision.training": "joint", "budget.threshold": "0.9"}
    with pytest.raises(SpaceError, match="method usdn cannot search training"):
        usdn = yaml.safe_load(preset_text("tiny-digits"))
        usdn["search"] = {"training": ["joint"]}
        parse_space(usdn, "u.yaml")


def test_precision_costs_are_macs_times_path_bits_times_activation_bits() -> None:
    backbone = create_backbone("resnet_cifar", depth=8, width=4, input_size=8, in_channels=1, num_classes=10)
    costs = precision_classifier_costs(backbone, (2, 4), a_bits=3, input_bits=8, classifier_bits=8)
    first = [layer for layer in backbone.layers if layer.role == "first"]
    body = [layer for layer in backbone.layers if layer.role not in ("first", "last")]
    (fc,) = [layer for layer in backbone.layers if layer.role == "last"]
    head = fc.macs * 8 * 3
    for bits, to_classifier in zip((2, 4), costs.to_classifier, strict=True):
        expected = sum(layer.macs * bits * 8 for layer in first) + sum(layer.macs * bits * 3 for layer in body)
        assert to_classifier == expected + head
    assert costs.ic_costs == (head,)  # the 2-bit classifier is paid for nothing by a sample that goes on
    assert costs.to_classifier[1] - costs.to_classifier[0] == sum(layer.macs * 2 * 8 for layer in first) + sum(
        layer.macs * 2 * 3 for layer in body)  # re-running 2 -> 4 costs the new 2-bit slice only (P2)
    assert average_bits((0.25, 0.75), (2, 4)) == 3.5


@pytest.mark.parametrize(("precision", "needle"), [
    ({"bit_list": [4, 4, 8]}, "precision.bit_list: must be strictly increasing"),
    ({"bit_list": [0, 4]}, "precision.bit_list: must be an integer in 1..32, got 0"),  # a slice of 0 bits
    ({"activation_bits": 33}, "precision.activation_bits: must be an integer in 1..32, got 33"),
])
def test_the_cli_refuses_a_bad_dpoq_file_in_one_line_with_exit_2(tmp_path, capsys, monkeypatch, precision: dict,
                                                                  needle: str) -> None:
    from nas.cli.main import main

    monkeypatch.chdir(tmp_path)  # where nas search would create nas-runs/ and mlflow.db

    data = _space()
    data["precision"] = {**data["precision"], **precision}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    for argv in (["spaces", "show", str(path)], ["search", str(path), "--budget", "3"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{path}: {needle}" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [path]  # nothing written


def test_an_unknown_exit_strategy_is_refused(tmp_path, capsys) -> None:
    from nas.cli.main import main

    data = _space(inference={"strategy": "entropy"})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["spaces", "show", str(path)]) == 2
    assert "inference.strategy: must be one of normalized, confidence_first, got 'entropy'" in capsys.readouterr().err
