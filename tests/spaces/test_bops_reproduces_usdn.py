"""The cost model reproduces USDN's printed uniform rows (Table 1 and Table 2)."""

from __future__ import annotations

import pytest

from spaces import CostModel, load_space


@pytest.mark.parametrize(
    ("preset", "bits", "printed_gbops"),
    [
        ("usdn-resnet18-imagenet", (3, 3), 22.83),  # Table 1: PACT / LQNet / SAT W3A3
        ("usdn-resnet18-imagenet", (4, 4), 34.70),  # Table 1: PACT / LQNet / SAT W4A4
        ("usdn-resnet20-cifar10", (4, 4), 0.670),  # Table 2: DoReFa / PACT W4A4
    ],
)
def test_uniform_rows_match_paper(preset: str, bits: tuple[int, int], printed_gbops: float) -> None:
    space = load_space(preset)
    gbops = CostModel(space).static_bops(space.uniform(bits)) / 1e9
    decimals = len(str(printed_gbops).split(".")[1])
    assert round(gbops, decimals) == pytest.approx(printed_gbops)


def test_resnet20_projection_shortcut_would_not_match() -> None:
    """Documents the convention: option-B 1x1 shortcuts would add 2 x 131,072 MACs at 4x4 bits."""
    space = load_space("usdn-resnet20-cifar10")
    gbops = CostModel(space).static_bops(space.uniform((4, 4))) / 1e9
    assert round(gbops + 2 * 131_072 * 16 / 1e9, 3) != 0.670


def test_fc_inherits_body_activation_bits() -> None:
    space = load_space("usdn-resnet18-imagenet")
    rows = {r["layer"]: r for r in CostModel(space).layer_table(space.uniform((3, 3)))}
    assert (rows["conv1"]["w"], rows["conv1"]["a"]) == (8, 8)
    assert (rows["fc"]["w"], rows["fc"]["a"]) == (8, 3)
    assert (rows["layer2.0.downsample.0"]["w"], rows["layer2.0.downsample.0"]["a"]) == (3, 3)


def test_to_classifier_is_monotone_and_final_is_static() -> None:
    space = load_space("usdn-resnet20-cifar10")
    model = CostModel(space)
    config = space.uniform((4, 4))
    costs = model.classifier_costs(config)
    assert list(costs.to_classifier) == sorted(costs.to_classifier)
    assert costs.to_classifier[-1] == pytest.approx(model.static_bops(config))
    assert len(costs.ic_costs) == space.num_exits - 1
    # SDN IC on the 32x32 stage: 16 channels pooled to 4x4 -> FC(256 -> 10), W8 with A4 inherited.
    assert costs.ic_costs[0] == 16 * 4 * 4 * 10 * 8 * 4


def test_scale_aware_ic_for_56x56_has_three_convs() -> None:
    space = load_space("usdn-resnet18-imagenet")
    layers = CostModel(space).exit_layers("layer1.0")
    convs = [layer for layer in layers if layer.kind == "conv"]
    assert [c.in_size for c in convs] == [56, 28, 14]
    assert layers[-1].in_channels == 64 * 7 * 7


def test_extremes_bracket_every_uniform_choice() -> None:
    space = load_space("tiny-digits")
    model = CostModel(space)
    low, high = model.static_bops(model.extreme_config(True)), model.static_bops(model.extreme_config(False))
    for choice in space.bit_dimensions[0].choices:
        assert low <= model.static_bops(space.uniform(choice)) <= high
    assert low == model.static_bops(space.uniform((2, 2)))
    assert high == model.static_bops(space.uniform((5, 5)))
