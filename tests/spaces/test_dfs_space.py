"""DFS spaces (issue 16): the gating:/report: sections, the target cp and the option list as train-phase knobs, the
cp the options can reach, and one-line errors naming file and field for bad option lists and targets."""

from __future__ import annotations

import copy

import pytest
import yaml

from spaces import SearchSpace, SpaceError
from spaces.dimensions.knob import TRAIN
from spaces.loader import parse_space, preset_text
from spaces.methods import DfsOptions
from spaces.methods.dfs import check_dfs_setting, cp_range, parse_option_list

BASE = yaml.safe_load(preset_text("dfs-digits"))


def _space(**changes: object) -> dict:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _gating(**changes: object) -> dict:
    return _space(gating={**BASE["gating"], **changes})


def test_the_digits_preset_is_a_dfs_space_with_one_exit_and_a_target_cp_knob() -> None:
    space: SearchSpace = parse_space(_space(), source="dfs.yaml")
    assert space.method == "dfs" and space.bit_dimensions == () and space.exit_dimensions == ()
    assert isinstance(space.options, DfsOptions) and space.num_exits == 1
    assert space.options.options == ("skip", "W8A8", "W16A16", "full")
    assert space.labels == ("budget.target_compute",) and space.train_labels == ("budget.target_compute",)
    assert space.trains_trials  # every DFS trial trains its step 2, knobs or not
    assert space.options.alpha == 1e-2 and space.options.step1_magnitude == 1e-4
    assert parse_space(_space(search=None), source="dfs.yaml").trains_trials


def test_sections_are_optional_and_default_to_the_paper_setting() -> None:
    space = parse_space(_space(gating=None, report=None), source="dfs.yaml")
    assert space.options == DfsOptions()
    assert space.options.alpha == 5e-6 and space.options.step1_magnitude == pytest.approx(5e-8)


def test_option_lists_read_bits_and_names() -> None:
    assert parse_option_list([ "skip", 4, 8, "full"]) == ("skip", "W4A4", "W8A8", "full")
    assert parse_option_list("skip,8,W16A16,32") == ("skip", "W8A8", "W16A16", "full")
    assert check_dfs_setting("options", ["skip", "full"], DfsOptions()) == "skip,full"
    assert check_dfs_setting("alpha", 1e-5, DfsOptions()) == "1e-05"
    with pytest.raises(ValueError, match="> 0"):
        check_dfs_setting("alpha", -1, DfsOptions())


def test_the_reachable_cp_follows_from_bops() -> None:
    backbone = parse_space(_space(), source="dfs.yaml").backbone
    assert cp_range(backbone, ("skip", "W8A8", "W16A16", "full")) == (0.0, 1.0)
    low, high = cp_range(backbone, ("W8A8", "full"))
    assert low == pytest.approx(1 / 16) and high == 1.0
    assert cp_range(backbone, ("skip", "W4A4", "W8A8")) == (0.0, pytest.approx(1 / 16))  # no full: 8-bit tops out


@pytest.mark.parametrize(("data", "field", "needle"), [
    (_gating(options=["skip"]), "gating.options", "needs an option that runs the block"),
    (_gating(options=["skip", 0, "full"]), "gating.options", "option bits must lie in 1..32"),
    (_gating(options=["skip", 33]), "gating.options", "option bits must lie in 1..32"),
    (_gating(options=["skip", 8, 8]), "gating.options", "options repeat"),
    (_gating(alpha=0), "gating.alpha", "must be a finite number > 0"),
    (_gating(alpha_rule="adaptive"), "gating.alpha_rule", "must be one of sign_switching, constant"),
    (_space(budget={**BASE["budget"], "target_compute": 0}), "budget.target_compute", "must be in (0, 1]"),
    (_space(budget={**BASE["budget"], "target_compute": 1.5}), "budget.target_compute", "must be in (0, 1]"),
    (_space(budget={k: v for k, v in BASE["budget"].items() if k != "target_compute"}), "budget.target_compute",
     "needs the target cp"),
    ({**_gating(options=[8, "full"]), "search": None, "budget": {**BASE["budget"], "target_compute": 0.05}},
     "budget.target_compute", "target cp 0.05 lies below 0.0625"),
    ({**_gating(options=[8, "full"]), "search": None}, "report.low_targets", "target cp 0.04 lies below 0.0625"),
    (_space(search={"target_compute": [0.2, 1.2]}), "search.target_compute", "(0, 1]"),
    (_gating(options=["skip", 4, 8]), "budget.target_compute", "lies above 0.0625"),
    (_space(report={**BASE["report"], "targets": [0.2, 0]}), "report.targets", "in (0, 1]"),
    (_space(report={**BASE["report"], "uniform_bits": [8, 64]}), "report.uniform_bits", "1..32"),
    (_gating(fixed_bits="skip"), "gating.fixed_bits", "must be full, bits k or 'WkAk'"),
    (_gating(fixed_bits="eight"), "gating.fixed_bits", "must be full, bits k or 'WkAk'"),
    (_gating(fixed_bits=0), "gating.fixed_bits", "must be full, bits k or 'WkAk'"),
])
def test_bad_dfs_files_are_one_line_naming_file_and_field(data: dict, field: str, needle: str) -> None:
    with pytest.raises(SpaceError) as raised:
        parse_space(data, source="bad.yaml")
    text = str(raised.value)
    assert text.startswith(f"bad.yaml: {field}") and needle in text and "\n" not in text, text


def test_a_searched_option_list_is_checked_against_every_target() -> None:
    data = _space(search={"target_compute": [0.02, 0.2], "options": [["skip", 8, "full"], [8, "full"]]})
    with pytest.raises(SpaceError, match=r"search.target_compute: target cp 0.02 lies below 0.0625"):
        parse_space(data, source="bad.yaml")
    space = parse_space(_space(search={"options": [["skip", 8, "full"], "skip,full"]}), source="ok.yaml")
    dims = {d.label: d for d in space.knob_dimensions}
    assert dims["gating.options"].choices == ("skip,W8A8,full", "skip,full") and dims["gating.options"].phase == TRAIN


@pytest.mark.parametrize(("gating", "needle"), [
    ({"options": ["skip"]}, "gating.options: needs an option that runs the block"),
    ({"options": ["skip", 40]}, "gating.options: option bits must lie in 1..32"),
])
def test_the_cli_refuses_a_bad_dfs_file_in_one_line_with_exit_2(tmp_path, capsys, monkeypatch, gating: dict,
                                                                 needle: str) -> None:
    from nas.cli.main import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_gating(**gating)))
    for argv in (["spaces", "show", str(path)], ["search", str(path), "--budget", "3"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{path}: {needle}" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [path]  # nothing written


def test_the_combined_preset_gates_over_usdns_bits_with_8_bit_fixed_pieces() -> None:
    from spaces import load_space

    space = load_space("dfs-usdn-digits")
    assert space.method == "dfs" and space.options.options == ("skip", "W2A2", "W4A4", "W8A8")
    assert space.options.quantizer == "dorefa_pact" and space.options.fixed_bits == "W8A8"
    assert parse_space(_gating(fixed_bits=4), source="x.yaml").options.fixed_bits == "W4A4"
    assert parse_space(_space(), source="x.yaml").options.fixed_bits == "full"  # DFS: full precision
