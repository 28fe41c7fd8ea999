"""The torch-free option cost table (METHODS.md 1, G1): hand-computed BOPs, DFS's cp factors, DDI's channel
fraction, DPOQ's onion slices (claim P2), gate layers and the plain-Python decisions-times-table reference."""

from __future__ import annotations

import itertools
import math
import pickle

import pytest

from spaces.backbones import LayerSpec
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.backbones.resnet_imagenet import resnet18
from spaces.cost import (
    FULL,
    SKIP,
    OptionCostTable,
    block_option_bops,
    channel_fraction_bops,
    channel_gate_layers,
    compute_percentage,
    cumulative_bops,
    ddi_cost_table,
    dfs_cost_table,
    layer_bops,
    onion_cost_table,
    onion_path_bops,
    onion_slice_bits,
    onion_slice_bops,
    option_bits,
    option_name,
    per_sample_bops,
    recurrent_gate_layers,
    unit_bops,
)
from spaces.dimensions import BitWidth

# ResNet-8, width 4, 8x8 inputs: one block per stage. MACs by hand (out side^2 x out channels x in x 3 x 3):
#   stem      3->4  @8:             8*8*4*27                 =  6 912
#   layer1.0  4->4  @8, 4->4 @8:    8*8*4*36 + 8*8*4*36      = 18 432
#   layer2.0  4->8 s2 @8, 8->8 @4:  4*4*8*36 + 4*4*8*72      = 13 824
#   layer3.0  8->16 s2 @4, 16->16:  2*2*16*72 + 2*2*16*144   = 13 824
#   fc        16->10:               160
TINY = resnet_cifar(depth=8, width=4, input_size=8)
MACS = {"stem": 6912, "layer1.0": 18432, "layer2.0": 13824, "layer3.0": 13824, "head": 160}


def test_hand_computed_macs_of_the_tiny_backbone() -> None:
    assert {block.name: block.macs for block in TINY.blocks} == MACS


# -- options -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "name", "bits"), [
    ("skip", SKIP, None), ("full", FULL, BitWidth(32, 32)), (8, "W8A8", BitWidth(8, 8)), ("w16a16", "W16A16",
     BitWidth(16, 16)), ("W32A32", FULL, BitWidth(32, 32)), (32, FULL, BitWidth(32, 32)), (BitWidth(4, 8), "W4A8",
     BitWidth(4, 8))])
def test_option_names_and_bits(option: object, name: str, bits: BitWidth | None) -> None:
    assert option_name(option) == name  # type: ignore[arg-type]
    assert option_bits(option) == bits  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["W0A8", "W33A33", "eight", True, 1.5, 0])
def test_unreadable_options_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        option_bits(bad)  # type: ignore[arg-type]


def test_block_option_bops_by_hand() -> None:
    block = TINY.block("layer2.0")
    assert block_option_bops(block, SKIP) == 0.0
    assert block_option_bops(block, 8) == 13824 * 64
    assert block_option_bops(block, "W16A16") == 13824 * 256
    assert block_option_bops(block, FULL) == 13824 * 1024
    assert block_option_bops(block, BitWidth(4, 8)) == 13824 * 32


@pytest.mark.parametrize("depth", [20, 38])
def test_dfs_cp_factors_follow_from_bops(depth: int) -> None:
    """DFS Sec. 4: "8/32 x 8/32 = 1/16"; 16-bit is 1/4, skip 0, full 1 (METHODS.md 1)."""
    table = dfs_cost_table(resnet_cifar(depth=depth, width=8))
    for unit in table.units:
        full = table.bops[unit][FULL]
        assert full > 0
        assert table.bops[unit]["W8A8"] / full == 1 / 16
        assert table.bops[unit]["W16A16"] / full == 1 / 4
        assert table.bops[unit][SKIP] == 0.0
    everyone = {"W8A8": 1 / 16, "W16A16": 1 / 4, FULL: 1.0, SKIP: 0.0}
    for option, cp in everyone.items():
        assert compute_percentage(table, [[option] * len(table.units)]) == [pytest.approx(cp, rel=1e-15)]


# -- the DFS table ----------------------------------------------------------------------------------------------------
def test_dfs_table_of_the_tiny_backbone() -> None:
    table = dfs_cost_table(TINY)
    assert table.units == ("layer2.0", "layer3.0")  # DFS Sec. 3.3: the first residual block always runs at full
    assert table.order == ("stem", "layer1.0", "layer2.0", "layer3.0", "head")
    assert table.options["layer2.0"] == (SKIP, "W8A8", "W16A16", FULL)
    assert table.fixed_bops == {"stem": 6912 * 1024, "layer1.0": 18432 * 1024, "head": 160 * 1024}
    assert table.fixed_total == (6912 + 18432 + 160) * 1024
    assert table.reference_bops() == 2 * 13824 * 1024
    # Everything at full is the whole backbone at W32A32.
    assert per_sample_bops(table, [[FULL, FULL]]) == [TINY.macs * 1024]


@pytest.mark.parametrize("options", [(SKIP, FULL), (SKIP, 4, 8, FULL), (SKIP, 8, 16, FULL)])
def test_any_option_list(options: tuple[object, ...]) -> None:
    table = dfs_cost_table(TINY, options=options, gated=["layer1.0", "layer2.0", "layer3.0"])  # type: ignore[arg-type]
    assert table.options["layer1.0"] == tuple(option_name(o) for o in options)  # type: ignore[arg-type]
    for unit in table.units:
        for option in options:
            bits = option_bits(option)  # type: ignore[arg-type]
            expected = 0 if bits is None else MACS[unit] * bits.w * bits.a
            assert table.cost(unit, option) == expected  # type: ignore[arg-type]


def test_dfs_gates_are_fixed_pieces_before_their_block() -> None:
    table = dfs_cost_table(TINY, gates=True)
    assert table.order == ("stem", "layer1.0", "layer2.0.gate", "layer2.0", "layer3.0.gate", "layer3.0", "head")
    # layer2.0's gate reads 4 channels: 1x1 conv 4->10 (40), LSTM step 4*10*(10+10) (800), FC 10->4 (40); at 32x32.
    assert table.fixed_bops["layer2.0.gate"] == (40 + 800 + 40) * 1024
    assert table.fixed_bops["layer3.0.gate"] == (80 + 800 + 40) * 1024  # reads 8 channels
    assert per_sample_bops(table, [[SKIP, SKIP]]) == [(6912 + 18432 + 160 + 880 + 920) * 1024]
    assert table.reference_bops() == 2 * 13824 * 1024  # gates stay outside cp


def test_projection_shortcut_runs_whatever_the_option() -> None:
    backbone = resnet18(num_classes=10, input_size=64)
    block = backbone.block("layer2.0")
    shortcut = next(layer for layer in block.layers if layer.role == "shortcut")
    table = dfs_cost_table(backbone)
    assert table.order[table.order.index("layer2.0") + 1] == "layer2.0.shortcut"
    assert table.fixed_bops["layer2.0.shortcut"] == shortcut.macs * 1024
    assert table.cost("layer2.0", FULL) == (block.macs - shortcut.macs) * 1024  # main path only
    assert table.cost("layer2.0", SKIP) == 0.0
    assert "layer2.0.shortcut" not in dfs_cost_table(backbone, shortcut_bits=None).order  # the DFS code: 0
    everything = dfs_cost_table(backbone)
    assert per_sample_bops(everything, [[FULL] * len(everything.units)]) == [backbone.macs * 1024]


def test_unknown_gated_block_is_refused() -> None:
    with pytest.raises(ValueError, match="not body blocks"):
        dfs_cost_table(TINY, gated=["stem"])


# -- channel fractions (DDI) -----------------------------------------------------------------------------------------
def test_channel_fraction_bops_by_hand() -> None:
    block = TINY.block("layer1.0")  # two 4->4 convs of 9216 MACs each
    assert channel_fraction_bops(block) == (0.0, 18432 * 1024)
    assert channel_fraction_bops(block, site="output") == (9216 * 1024, 9216 * 1024)
    assert channel_fraction_bops(block, BitWidth(8, 8), "intermediate") == (0.0, 18432 * 64)
    with pytest.raises(ValueError, match="basic block"):
        channel_fraction_bops(TINY.block("stem"))
    with pytest.raises(ValueError, match="site"):
        channel_fraction_bops(block, site="input")  # type: ignore[arg-type]


@pytest.mark.parametrize("site", ["intermediate", "output"])
def test_ddi_cost_is_linear_in_the_kept_fraction(site: str) -> None:
    backbone = resnet_cifar(depth=20, width=8)
    table = ddi_cost_table(backbone, site=site)  # type: ignore[arg-type]
    for unit in table.units:
        at = [table.cost(unit, FULL, r) for r in (0.0, 0.25, 0.5, 0.75, 1.0)]
        slope = at[-1] - at[0]
        assert slope > 0
        for r, value in zip((0.0, 0.25, 0.5, 0.75, 1.0), at, strict=True):
            assert value == pytest.approx(at[0] + r * slope, rel=1e-15)
        block = backbone.block(unit)
        conv1, conv2 = (layer.macs * 1024 for layer in block.main_path)
        assert slope == (conv1 + conv2 if site == "intermediate" else conv2)


def test_ddi_table_of_the_tiny_backbone() -> None:
    table = ddi_cost_table(TINY)
    # Only layer1.0 keeps its dimensions (DDI Eq. 1-2: dim F_i = dim F_{i-1}); the downsampling blocks always run.
    assert table.units == ("layer1.0",)
    assert table.order == ("stem", "layer1.0.gate", "layer1.0", "layer2.0", "layer3.0", "head")
    assert table.options["layer1.0"] == (SKIP, FULL)
    # Layer gate: 1x1 conv 4->10 (40) + LSTM step (800) + FC 10->1 (10), whatever it decides.
    assert table.fixed_bops["layer1.0.gate"] == 850 * 1024
    # Channel gate (runs only with the block): 3x3 s2 conv 4->4 on 8x8 (4*4*4*36 = 2304) + FC 4->4 (16).
    gate = 2304 + 16
    assert table.bops["layer1.0"] == {SKIP: 0.0, FULL: (18432 + gate) * 1024}
    assert table.scaled_bops["layer1.0"] == {SKIP: 0.0, FULL: 18432 * 1024}
    assert table.cost("layer1.0", FULL, 0.5) == (9216 + gate) * 1024
    fixed = (6912 + 850 + 13824 + 13824 + 160) * 1024
    assert per_sample_bops(table, [[SKIP], [FULL], [FULL]], [[0.3], [1.0], [0.25]]) == [
        fixed, fixed + (18432 + gate) * 1024, fixed + (4608 + gate) * 1024]


def test_ddi_baselines_layer_only_and_channel_only() -> None:
    layer_only = ddi_cost_table(TINY, channel_gate=False)
    assert layer_only.bops["layer1.0"] == {SKIP: 0.0, FULL: 18432 * 1024}
    assert layer_only.cost("layer1.0", FULL, 0.0) == 18432 * 1024  # no channel gate: fractions do nothing
    channel_only = ddi_cost_table(TINY, layer_gate=False)
    assert channel_only.options["layer1.0"] == (FULL,)
    assert "layer1.0.gate" not in channel_only.order
    with pytest.raises(ValueError, match="needs"):
        ddi_cost_table(TINY, layer_gate=False, channel_gate=False)


def test_channel_gate_is_an_eighth_of_a_basic_block() -> None:
    """DDI Sec. 3.1: the CNN gate costs 12.5 % of a residual block (3x3 stride-2 conv keeping c channels)."""
    backbone = resnet_cifar(depth=20, width=16)
    for block in backbone.body_blocks():
        if block.kind != "basic" or block.shortcut != "identity":
            continue
        conv1 = block.main_path[0]
        conv = channel_gate_layers("g", conv1.in_channels, conv1.in_size, conv1.out_channels)[0]
        assert conv.macs * 8 == block.macs


# -- onion slices (DPOQ) -------------------------------------------------------------------------------------------
def test_onion_slice_bits() -> None:
    assert onion_slice_bits((2, 4, 8, 16)) == (2, 2, 4, 8)
    assert onion_slice_bits((4, 5, 6, 8)) == (4, 1, 1, 2)
    for bad in [(), (4, 4), (8, 4), (0, 2), (8, 33)]:
        with pytest.raises(ValueError):
            onion_slice_bits(bad)


def test_onion_path_and_slice_bops_by_hand() -> None:
    layer = TINY.layer("layer1.0.conv1")  # 9216 MACs
    assert onion_path_bops(layer, (2, 4, 8, 16), 8) == (9216 * 2 * 8, 9216 * 4 * 8, 9216 * 8 * 8, 9216 * 16 * 8)
    assert onion_slice_bops(layer, (2, 4, 8, 16), 8) == (9216 * 2 * 8, 9216 * 2 * 8, 9216 * 4 * 8, 9216 * 8 * 8)


@pytest.mark.parametrize(("bit_list", "a_bits"), [((2, 4, 8, 16), 8), ((2, 4, 8, 16), 2), ((4, 5, 6, 8), 4)])
def test_rerunning_costs_only_the_new_slice(bit_list: tuple[int, ...], a_bits: int) -> None:
    """Claim P2 of METHODS.md (exact): path p = MACs B_p A, rerun p -> p+1 = MACs b_{p+1} A."""
    backbone = resnet_cifar(depth=20, width=8)
    for layer in backbone.layers:
        paths = onion_path_bops(layer, bit_list, a_bits)
        slices = onion_slice_bops(layer, bit_list, a_bits)
        assert paths[0] == slices[0]
        for p in range(1, len(bit_list)):
            assert paths[p] - paths[p - 1] == slices[p] == layer.macs * (bit_list[p] - bit_list[p - 1]) * a_bits
    table = onion_cost_table(backbone, bit_list, a_bits, final_head_bops=123.0)
    assert table.units == tuple(f"W{b}A{a_bits}" for b in bit_list)
    body = [layer for layer in backbone.layers if layer.role != "last"]
    for p, bits in enumerate(bit_list):
        stop_at_p = [["run"] * (p + 1) + [SKIP] * (len(bit_list) - p - 1)]
        through = cumulative_bops(table, stop_at_p)[0]
        assert through[p] == sum(layer_bops(layer, BitWidth(bits, a_bits)) for layer in body)
        assert through[-1] == through[p] + 123.0  # the final head is a fixed piece at the end


# -- gate layers ---------------------------------------------------------------------------------------------------
def test_gate_layer_specs() -> None:
    proj, lstm, fc = recurrent_gate_layers("g", in_channels=16, num_outputs=4)
    assert {layer.role for layer in (proj, lstm, fc)} == {"gate"}
    assert (proj.kind, proj.macs) == ("conv", 160)
    assert (lstm.kind, lstm.macs, lstm.out_size) == ("lstm", 4 * 10 * (10 + 10), 1)
    assert lstm.params == 4 * 10 * (10 + 10) + 2 * 4 * 10  # nn.LSTM: weight_ih, weight_hh, bias_ih, bias_hh
    assert (fc.kind, fc.macs) == ("linear", 40)
    small = recurrent_gate_layers("g", in_channels=16, num_outputs=1, width=6, hidden=5)
    assert [layer.macs for layer in small] == [96, 4 * 5 * (6 + 5), 5]
    with pytest.raises(ValueError):
        recurrent_gate_layers("g", 16, 0)
    conv, linear = channel_gate_layers("c", in_channels=8, in_size=16, out_channels=8)
    assert (conv.stride, conv.out_size, conv.macs, conv.role) == (2, 8, 8 * 8 * 8 * 72, "gate")
    assert (linear.macs, linear.role) == (64, "gate")


def test_lstm_layer_spec_macs() -> None:
    assert LayerSpec("x", "lstm", 7, 3, role="gate").macs == 4 * 3 * 10


# -- the table itself and the reference ---------------------------------------------------------------------------
def _table() -> OptionCostTable:
    return OptionCostTable(
        units=("a", "b"),
        options={"a": (SKIP, "W8A8", FULL), "b": (SKIP, FULL)},
        bops={"a": {SKIP: 0.0, "W8A8": 10.0, FULL: 160.0}, "b": {SKIP: 0.0, FULL: 100.0}},
        fixed_bops={"stem": 5.0, "gate": 1.0, "head": 2.0},
        order=("stem", "a", "gate", "b", "head"),
        scaled_bops={"b": {FULL: 60.0}},
    )


def test_hand_computed_per_sample_reference() -> None:
    table = _table()
    decisions = [["skip", "skip"], [1, "full"], [(0.0, 0.0, 1.0), (0.0, 1.0)], [(0.5, 0.5, 0.0), (0.25, 0.75)]]
    fractions = [[1.0, 1.0], [1.0, 0.5], [1.0, 1.0], [1.0, 0.0]]
    assert unit_bops(table, decisions[1], fractions[1]) == [10.0, 100.0 - 60.0 * 0.5]
    # fixed 8; soft decisions give the expected cost (DFS Eq. 2's E): 0.5*10 + 0.75*(100 - 60).
    assert per_sample_bops(table, decisions, fractions) == [8.0, 8.0 + 10.0 + 70.0, 8.0 + 260.0, 8.0 + 5.0 + 30.0]
    assert cumulative_bops(table, decisions[1:2], fractions[1:2]) == [[5.0, 15.0, 16.0, 86.0, 88.0]]
    assert compute_percentage(table, [["full", "skip"]]) == [160.0 / 260.0]
    # Weight vectors zero-padded to the widest unit are read too.
    assert per_sample_bops(table, [[(0, 0, 1), (0, 1, 0)]]) == [268.0]


@pytest.mark.parametrize(("decisions", "match"), [
    ([["skip"]], "1 decisions for 2 units"), ([[3, 0]], "out of range"), ([["skip", "W8A8"]], "no option"),
    ([[(1.0, 0.0), (1.0, 0.0)]], "2 option weights for 3"), ([[(0, 0, 1), (0, 1, 1)]], "3 option weights for 2")])
def test_bad_decisions_are_refused(decisions: list[list[object]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        per_sample_bops(_table(), decisions)  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "match"), [
    ({"units": ("a", "a")}, "repeat"),
    ({"options": {"a": (SKIP,)}}, "options are given"),
    ({"bops": {"a": {SKIP: 0.0}, "b": {SKIP: 0.0, FULL: 1.0}}}, "prices"),
    ({"bops": {"a": {SKIP: -1.0, "W8A8": 10.0, FULL: 160.0}, "b": {SKIP: 0.0, FULL: 100.0}}}, "non-negative"),
    ({"scaled_bops": {"b": {FULL: 101.0}}}, "exceeds"),
    ({"scaled_bops": {"c": {FULL: 1.0}}}, "not gated"),
    ({"scaled_bops": {"b": {"W8A8": 1.0}}}, "lacks"),
    ({"fixed_bops": {"a": 1.0}}, "both"),
    ({"order": ("stem", "a", "b", "head")}, "every unit"),
    ({"order": ("stem", "b", "gate", "a", "head")}, "another order"),
])
def test_inconsistent_tables_are_refused(change: dict[str, object], match: str) -> None:
    table = _table()
    fields = {"units": table.units, "options": table.options, "bops": table.bops, "fixed_bops": table.fixed_bops,
              "order": table.order, "scaled_bops": table.scaled_bops}
    fields.update(change)
    if "units" in change:
        fields["order"] = ()
    with pytest.raises(ValueError, match=match):
        OptionCostTable(**fields)  # type: ignore[arg-type]


def test_table_defaults_pickles_and_copies_its_inputs() -> None:
    bops = {"a": {SKIP: 0.0, FULL: 4.0}}
    table = OptionCostTable(("a",), {"a": (SKIP, FULL)}, bops, {"head": 1.0})
    assert table.order == ("a", "head")
    assert table.scaled_bops == {"a": {SKIP: 0.0, FULL: 0.0}}
    bops["a"][FULL] = 99.0
    assert table.bops["a"][FULL] == 4.0
    assert pickle.loads(pickle.dumps(table)) == table
    assert table.num_options == 2
    with pytest.raises(TypeError):
        hash(table)


def test_cumulative_ends_at_the_total() -> None:
    table = dfs_cost_table(resnet_cifar(depth=20, width=8), gates=True)
    decisions = [[(i + n) % 4 for i in range(len(table.units))] for n in range(5)]
    totals = per_sample_bops(table, decisions)
    for row, total in zip(cumulative_bops(table, decisions), totals, strict=True):
        assert row[-1] == pytest.approx(total, rel=1e-15)
        assert all(b >= a for a, b in itertools.pairwise(row))
    assert not math.isclose(totals[0], totals[1])
