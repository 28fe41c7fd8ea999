"""Every entry of ``nas compare-methods`` prices its networks with the one cost model (issue 18): a network that
means the same thing, priced by two methods' code paths, costs the same BOPs."""

from __future__ import annotations

import pytest

from nas.comparison.comparison_spaces import CommonBackbone, default_budgets, uniform_bops
from nas.comparison.entries import DEFAULT_ENTRIES, entry
from spaces import BitWidth, CostModel, SearchSpace
from spaces.cost import layer_bops, precision_classifier_costs

BACKBONE = CommonBackbone("resnet_cifar", 8, 4, 8, 1, 4)
DATA = {"name": "synthetic"}


def _space(name: str) -> SearchSpace:
    return entry(name).space(BACKBONE, DATA, 1)


def test_every_entry_is_built_on_the_common_backbone() -> None:
    layers = [(layer.name, layer.macs) for layer in _space("usdn").backbone.layers]
    for name in DEFAULT_ENTRIES:
        assert [(layer.name, layer.macs) for layer in _space(name).backbone.layers] == layers, name


def test_dfs_all_full_precision_equals_the_fp_base_and_ddis_base() -> None:
    """A DFS network with every gated block at full precision (its cost table's fixed pieces without the gates plus
    cp's reference), the DFS base A, DDI's base network and the backbone at W32A32: one plain full-precision
    ResNet, one number of BOPs."""
    from trainers.methods.ddi import build_ddi_network
    from trainers.methods.dfs import build_fractional_network

    dfs = build_fractional_network(_space("dfs"))
    table = dfs.table
    gates = sum(v for k, v in table.fixed_bops.items() if k.endswith(".gate"))
    all_full = table.fixed_total - gates + table.reference_bops()
    fp = uniform_bops(_space("dfs"), 32)
    assert all_full == pytest.approx(fp, rel=1e-12)
    assert dfs.base_bops() == pytest.approx(fp, rel=1e-12)
    assert build_ddi_network(_space("ddi")).base_bops == pytest.approx(fp, rel=1e-12)


def test_dpoq_single_precision_path_equals_usdn_uniform_where_the_fixed_layers_agree() -> None:
    """DPOQ's 4-bit path at 4-bit activations and USDN's uniform W4A4 config are the same body and the same FC
    (8-bit weights on 4-bit inputs); they differ only in the stem's weights (USDN 8-bit, DPOQ the path's 4 bits,
    both on 8-bit images). Every body layer costs the same, and the totals differ by exactly the stem's MACs x
    (8 - 4) x 8."""
    usdn, dpoq = _space("usdn"), _space("dpoq")
    config = usdn.uniform((4, 4))
    usdn_total = CostModel(usdn).static_bops(config)
    options = dpoq.options
    dpoq_total = precision_classifier_costs(dpoq.backbone, (4,), 4, options.input_bits,
                                            options.classifier_bits).to_classifier[-1]
    stem = usdn.backbone.layer("conv1")
    assert usdn.layer_bits(config)["conv1"] == BitWidth(8, 8)
    assert usdn_total - dpoq_total == pytest.approx(stem.macs * (8 - 4) * 8, rel=1e-12)
    body = [layer for layer in usdn.backbone.layers if layer.name not in ("conv1", "fc")]
    from spaces.cost.option_costs import onion_path_bops

    for layer in body:
        assert onion_path_bops(layer, (4,), 4)[0] == layer_bops(layer, BitWidth(4, 4)), layer.name


def test_uniform_qat_and_the_default_budgets_use_usdns_pricing() -> None:
    """A uniform QAT network's BOPs are USDN's static BOPs of the uniform config (8-bit stem and FC weights: the
    backbone's uniform BOPs plus the stem's and FC's extra bits, Eq. 1), and the default budgets are exactly the W2,
    W4 and W8 networks' BOPs and the backbone at full precision."""
    space = _space("uniform")
    for bits in (2, 3, 4, 8):
        static = CostModel(space).static_bops(space.uniform((bits, bits)))
        stem, fc = space.backbone.layer("conv1"), space.backbone.layer("fc")
        expected = uniform_bops(space, bits) + stem.macs * (8 * 8 - bits * bits) + fc.macs * (8 - bits) * bits
        assert static == pytest.approx(expected, rel=1e-12), bits
    budgets = default_budgets(space)
    qat = [CostModel(space).static_bops(space.uniform((b, b))) for b in (2, 4, 8)]
    assert budgets == (*qat, uniform_bops(space, 32))


def test_combined_dfs_usdn_all_8_bit_equals_usdns_uniform_w8a8() -> None:
    """The combined entry (DFS gates over USDN's precision, 8-bit ungated pieces) with every gated block at W8A8,
    gates left out, is USDN's uniform W8A8 network: the same stem (W8A8 on the image), body and FC (W8A8), one
    number of BOPs. Its cp range ends at 8 x 8 / 32 x 32."""
    from spaces.methods.dfs import cp_range
    from trainers.methods.dfs import build_fractional_network

    combined, usdn = _space("dfs-usdn"), _space("usdn")
    assert combined.options.fixed_bits == "W8A8"
    table = build_fractional_network(combined).table
    gates = sum(v for k, v in table.fixed_bops.items() if k.endswith(".gate"))
    all_8 = table.fixed_total - gates + sum(table.bops[u]["W8A8"] for u in table.units)
    assert all_8 == pytest.approx(CostModel(usdn).static_bops(usdn.uniform((8, 8))), rel=1e-12)
    assert cp_range(combined.backbone, combined.options.options) == (0.0, pytest.approx(8 * 8 / (32 * 32)))
