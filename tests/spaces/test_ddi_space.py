"""DDI spaces (issue 17): the gating:/branches:/inference:/report: sections, one exit per branch plus the main
classifier, the hard budget B and E_IADI of the budget, one-line errors naming file and field, and claim D6's
exact half (the cost model's FLOPs of ResNet-20/26/38 against DDI Table 2's budgets)."""

from __future__ import annotations

import copy

import pytest
import yaml

from spaces import SpaceError, load_space
from spaces.backbones import ExitHeadSpec, create_backbone
from spaces.backbones.branch_positions import branch_blocks
from spaces.cost.ddi_exit_costs import ddi_exit_costs, flops_of_bops
from spaces.cost.option_costs import FULL_PRECISION, layers_bops
from spaces.dimensions.knob import INFERENCE, TRAIN
from spaces.loader import parse_space, preset_text
from spaces.methods import DdiOptions

BASE = yaml.safe_load(preset_text("ddi-digits"))


def _space(**changes: object) -> dict:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def test_the_digits_preset_has_six_quarter_branches_and_entropy_threshold_knobs() -> None:
    space = load_space("ddi-digits")
    assert space.method == "ddi" and isinstance(space.options, DdiOptions)
    assert space.options.branches == ("layer1.0", "layer1.2", "layer2.0", "layer2.2", "layer3.0", "layer3.2")
    assert space.num_exits == 7 and space.labels == tuple(f"exit{j}.threshold" for j in range(6))
    assert all(space.dimension(label).phase == INFERENCE for label in space.labels)
    assert space.budget.reward == "hard_budget" and space.budget.target_compute == 0.5
    for preset in ("ddi-resnet38-cifar10", "ddi-resnet74-cifar10"):
        assert load_space(preset).num_exits == 7


def test_target_compute_is_a_train_phase_knob() -> None:
    space = parse_space(_space(search={"target_compute": [0.3, 0.5]}), source="t.yaml")
    assert space.train_labels == ("budget.target_compute",)
    assert space.dimension("budget.target_compute").phase == TRAIN


@pytest.mark.parametrize(("changes", "field", "needle"), [
    ({"branches": {"positions": ["stem"]}}, "branches.positions", "not blocks of a stage"),
    ({"branches": {"positions": ["layer1.1", "layer9.0"]}}, "branches.positions", "['layer9.0']"),
    ({"branches": {"positions": "thirds"}}, "branches.positions", "'quarters' or a list"),
    ({"budget": {"target_bops": 1.0e6}}, "budget.target_bops", "below the cheapest exit"),
    ({"budget": {"reward": "usdn_eq7"}}, "budget.reward", "must be hard_budget"),
    ({"search": {"thresholds": [0.1, 1.5]}}, "search.thresholds", "number in (0, 1], got 1.5"),
    ({"search": {"thresholds": [0.0, 0.5]}}, "search.thresholds", "number in (0, 1], got 0.0"),
    ({"search": {"tradeoff": [0.1]}}, "search.tradeoff", "method ddi cannot search tradeoff"),
    ({"gating": {"kind": "both"}}, "gating.kind", "one of mgl2s, layer, channel"),
    ({"inference": {"budget_mode": "soft"}}, "inference.budget_mode", "one of hard, average"),
    ({"report": {"baseline_depths": [26]}}, "report.baseline_depths", "smaller than the space's ResNet-26"),
    ({"report": {"knee_branch": 7}}, "report.knee_branch", "one of the 6 branches"),
    ({"exits": {"groups": [0]}}, "exits", "has no exits section"),
])
def test_bad_ddi_input_is_one_line_naming_file_and_field(changes: dict, field: str, needle: str) -> None:
    with pytest.raises(SpaceError) as raised:
        parse_space(_space(**changes), source="bad.yaml")
    text = str(raised.value)
    assert "bad.yaml" in text and field in text and needle in text and "\n" not in text, text


@pytest.mark.parametrize(("changes", "needle"), [
    ({"branches": {"positions": ["layer1.1", "head"]}}, "branches.positions: branch positions ['head'] are not"),
    ({"budget": {"target_bops": 1.0e6}}, "budget.target_bops: hard budget 1e+06 BOPs"),
    ({"search": {"thresholds": [0.5, 2.0]}}, "search.thresholds: every value must be a number in (0, 1], got 2.0"),
])
def test_the_cli_refuses_bad_ddi_input_in_one_line_with_exit_2(tmp_path, capsys, monkeypatch, changes: dict,
                                                                needle: str) -> None:
    from nas.cli.main import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_space(**changes)))
    for argv in (["spaces", "show", str(path)], ["search", str(path), "--budget", "3"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{path}: {needle}" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(("depth", "paper_mflops"), [(20, 84.0), (26, 110.0), (38, 170.0)])
def test_d6_cost_model_flops_are_within_4_percent_of_table_2(depth: int, paper_mflops: float) -> None:
    """D6 (exact): FLOPs = 2 x MACs of the CIFAR ResNets land within 4 % of DDI Table 2's budgets
    (Sec. 4.3's text gives 84 M for ResNet-20)."""
    backbone = create_backbone("resnet_cifar", depth=depth)
    flops = flops_of_bops(layers_bops(backbone.layers, FULL_PRECISION))
    assert flops == 2 * sum(layer.macs for layer in backbone.layers)
    assert abs(flops / 1e6 - paper_mflops) / paper_mflops <= 0.04, flops


def test_exit_costs_bound_every_sample_and_the_cheapest_is_the_first_branch_with_every_block_skipped() -> None:
    backbone = create_backbone("resnet_cifar", depth=26, width=8, input_size=8, in_channels=1, num_classes=10)
    branches = branch_blocks(backbone)
    costs = ddi_exit_costs(backbone, branches, ExitHeadSpec())
    assert all(lo <= hi for lo, hi in zip(costs.low, costs.high, strict=True))
    assert list(costs.low) == sorted(costs.low) and list(costs.high) == sorted(costs.high)
    # branch 0 sits after layer1.0 (gated): the stem, one layer gate and the head at least
    stem = layers_bops(backbone.block("stem").layers, FULL_PRECISION)
    assert costs.cheapest == pytest.approx(stem + (costs.low[0] - stem - costs.heads[0]) + costs.heads[0])
    assert costs.cheapest < stem + costs.heads[0] + 1e5 * 1024
    # every block run, full channels, gates counted: the main exit costs more than the base network
    assert costs.high[-1] > costs.base == layers_bops(backbone.layers, FULL_PRECISION)
