"""Budgets and inference knobs as search dimensions (issue 14, item 3): the ``method:`` and ``search:`` sections
of a space file, their one-line errors, and the knob views of a space."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from spaces import SpaceError, load_space, parse_space
from spaces.dimensions import INFERENCE, KnobChoice
from spaces.loader import preset_text
from spaces.methods import list_methods, method_spec


def _space(**changes: object) -> dict:
    data = yaml.safe_load(preset_text("tiny-digits"))
    data.update(changes)
    return data


def test_the_threshold_preset_searches_one_threshold_per_ic() -> None:
    space = load_space("tiny-digits-thresholds")
    knobs = space.knob_dimensions
    assert space.method == "usdn" and [k.label for k in knobs] == ["exit0.threshold", "exit1.threshold"]
    assert all(k.phase == INFERENCE and k.choices == (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99) for k in knobs)
    assert space.size == load_space("tiny-digits").size * 7 * 7
    assert space.structural_labels == load_space("tiny-digits").labels
    config = space.sample(random.Random(0))
    assert space.parse(space.format(config)) == config  # text round trip, as Parquet and Optuna see it
    assert space.exit_thresholds(config) == (config["exit0.threshold"], config["exit1.threshold"])


def test_a_space_without_method_is_usdn_and_has_no_knobs() -> None:
    space = load_space("tiny-digits")
    assert space.method == "usdn" and space.knob_dimensions == () and "usdn" in list_methods()
    assert space.exit_thresholds(space.sample(random.Random(0))) == space.budget.threshold


def test_global_knobs_set_the_budget_a_config_is_scored_under() -> None:
    space = parse_space(_space(search={"threshold": [0.6, 0.9], "tradeoff": [0.0, 0.5]}), source="t.yaml")
    config = space.sample(random.Random(3)) | {"budget.threshold": 0.6, "budget.tradeoff": 0.5}
    budget = space.budget_for(config)
    assert (budget.threshold, budget.tradeoff, budget.target_bops) == (0.6, 0.5, space.budget.target_bops)
    assert space.exit_thresholds(config) == 0.6
    # a uniform baseline takes the grid value nearest the space's own budget (threshold 0.8, tradeoff 0.1)
    uniform = space.uniform((4, 4))
    assert (uniform["budget.threshold"], uniform["budget.tradeoff"]) == (0.9, 0.0)


def test_knob_text_form_reads_numbers_however_written() -> None:
    knob = KnobChoice("exit0.threshold", [0.5, 1], INFERENCE)
    assert knob.format(1) == "1.0" and knob.validate("1") == 1.0 and knob.validate(0.5) == 0.5
    with pytest.raises(SpaceError, match="not one of"):
        knob.validate("0.7")


@pytest.mark.parametrize(("changes", "field", "needle"), [
    ({"method": "nope"}, "method", "unknown method 'nope'; known: "),
    ({"search": {"temperature": [1.0]}}, "search.temperature", "no such knob"),
    ({"search": {"thresholds": [0.5, 1.5]}}, "search.thresholds", "number in (0, 1]"),
    ({"search": {"threshold": [0.0]}}, "search.threshold", "number in (0, 1]"),
    ({"search": {"tradeoff": [-1]}}, "search.tradeoff", ">= 0"),
    ({"search": {"target_compute": [0.1, 0.2]}}, "search.target_compute", "method usdn cannot search"),
    ({"search": {"thresholds": []}}, "search.thresholds", "non-empty list"),
    ({"search": {"threshold": [0.5], "thresholds": [0.5]}}, "search", "not both"),
    ({"search": {"thresholds": [0.5]}, "exits": {"groups": []}}, "search.thresholds", "no internal classifier"),
    ({"search": [0.5]}, "search", "must be a mapping"),
    ({"search": {"threshold": {"values": [0.5], "phase": "train"}}}, "search.threshold.phase",
     "method usdn searches threshold in the inference phase and cannot honour phase 'train'"),
    ({"search": {"threshold": {"values": [0.5, 2.0], "phase": "inference"}}}, "search.threshold.values",
     "number in (0, 1]"),
    ({"search": {"threshold": {"grid": [0.5]}}}, "search.threshold", "a mapping with values"),
])
def test_bad_knobs_are_one_line_naming_file_and_field(changes: dict, field: str, needle: str) -> None:
    with pytest.raises(SpaceError) as raised:
        parse_space(_space(**changes), source="bad.yaml")
    text = str(raised.value)
    assert "bad.yaml" in text and field in text and needle in text and "\n" not in text, text


def test_the_long_form_names_the_phase_the_method_scores_it_in() -> None:
    short = parse_space(_space(search={"threshold": [0.5, 0.9]}), source="a.yaml")
    long = parse_space(_space(search={"threshold": {"values": [0.5, 0.9], "phase": "inference"}}), source="b.yaml")
    assert [(d.label, d.choices, d.phase) for d in long.knob_dimensions] == \
        [(d.label, d.choices, d.phase) for d in short.knob_dimensions] == [("budget.threshold", (0.5, 0.9), INFERENCE)]


def test_the_usdn_spec_names_its_inference_knobs() -> None:
    spec = method_spec("usdn")
    assert spec.knob_phase("thresholds") == INFERENCE and spec.knob_phase("target_compute") is None
    with pytest.raises(SpaceError, match="unknown method"):
        method_spec("snn")


def test_a_bad_knob_file_stops_nas_search_before_anything_is_written(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(_space(search={"thresholds": [0.5, 2.0]})))
    done = subprocess.run([sys.executable, "-m", "nas.cli.main", "search", str(path), "--runs-dir",
                           str(tmp_path / "runs"), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert str(path) in done.stderr and "search.thresholds" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()
