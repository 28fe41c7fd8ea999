"""DDI's dual dynamic network: MGL2S blocks (Eq. 1-3: the channel gate runs only where the layer gate is 1, skipped
channels pass the input through), RADI branch positions (1/4 and 3/4 of every stage), the per-sample cost against
the torch-free reference and against hook-counted MACs of what ran, gate overhead (claim D6, part 2), the
ablations, the base freeze of the gate warm-up, and the skip / channel-keep ratios."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from spaces import load_space
from spaces.backbones import Backbone
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost.option_costs import (
    channel_gate_layers,
    cumulative_bops,
    ddi_cost_table,
    per_sample_bops,
    recurrent_gate_layers,
)
from trainers.early_exit.exit_rules import NEVER
from trainers.early_exit.forward_record import ForwardRecord
from trainers.networks import build_pretraining_network
from trainers.networks.backbone_blocks import BasicBlock
from trainers.networks.dual_dynamic_network import DualDynamicNetwork, branch_blocks, quarter_positions
from trainers.networks.mgl2s_block import Mgl2sBlock

BOPS_PER_MAC = 32 * 32  # DDI runs at full precision: BOPs = MACs x 32 x 32
BIG = 30.0  # an output bias that saturates a gate's sigmoid (with small Gaussian weights)


def tiny(depth: int = 14) -> Backbone:
    return resnet_cifar(depth=depth, width=4, input_size=8, in_channels=1, num_classes=10)


def network(depth: int = 14, seed: int = 0, **options: object) -> DualDynamicNetwork:
    torch.manual_seed(seed)
    return DualDynamicNetwork(tiny(depth), **options)  # type: ignore[arg-type]


def images(n: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def mixed(depth: int = 14, training: bool = False, **options: object) -> DualDynamicNetwork:
    """A network whose first gated block opens for about half of :func:`images` (the layer gate's output bias moved
    to the median logit there), so the decisions are mixed whatever the seed; in mode ``training``."""
    net = network(depth, seed=3, init_std=1.0, **options).train(training)
    if net.layer_gate is not None:
        with torch.no_grad():
            stem = net.blocks[0](images(32))
            net.layer_gate.fc.bias -= net.layer_gate.step(0, stem).logit.median()
    return net


def _macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> int:
    """MACs of one call, summed over the samples that went through it."""
    if isinstance(module, nn.Conv2d):
        assert isinstance(output, torch.Tensor)
        return output.numel() * module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
    if isinstance(module, nn.Linear):
        assert isinstance(output, torch.Tensor)
        return output.numel() * module.in_features
    assert isinstance(module, nn.LSTM)
    return inputs[0].shape[0] * inputs[0].shape[1] * (module.weight_ih_l0.numel() + module.weight_hh_l0.numel())


@contextmanager
def counting(root: nn.Module) -> Iterator[dict[str, int]]:
    """Hook-counted MACs of every conv, linear and LSTM under ``root`` while the context is open."""
    counts = {"macs": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        counts["macs"] += _macs(module, inputs, output)

    handles = [m.register_forward_hook(hook) for m in root.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.LSTM)]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


# -- branch positions (DDI Sec. 4.1, Fig. 4a) ---------------------------------------------------------------------
@pytest.mark.parametrize(("blocks", "expected"), [(1, (1,)), (2, (1, 2)), (4, (1, 3)), (6, (2, 5)), (8, (2, 6)),
                                                  (12, (3, 9))])
def test_quarter_positions(blocks: int, expected: tuple[int, ...]) -> None:
    """ceil(n/4) and ceil(3n/4), 1-indexed: Fig. 4's 8-block stage gives the 2nd and the 6th."""
    assert quarter_positions(blocks) == expected


@pytest.mark.parametrize(("depth", "indices"), [(26, (0, 2)), (38, (1, 4)), (74, (2, 8))])
def test_branch_blocks_of_resnet_26_38_74(depth: int, indices: tuple[int, int]) -> None:
    """Six branches for three stages: ResNet-26 (4 blocks per stage) after blocks 1 and 3, ResNet-38 (6) after 2 and
    5, ResNet-74 (12) after 3 and 9."""
    backbone = resnet_cifar(depth=depth)
    expected = tuple(f"layer{stage}.{i}" for stage in (1, 2, 3) for i in indices)
    assert branch_blocks(backbone) == expected
    net = DualDynamicNetwork(tiny(depth))
    assert net.branch_names == expected and net.num_exits == 7


def test_branch_positions_outside_a_stage_are_rejected() -> None:
    backbone = tiny(26)
    assert branch_blocks(backbone, "none") == ()
    assert branch_blocks(backbone, ["layer3.1", "layer1.3"]) == ("layer1.3", "layer3.1")
    for bad in (["stem"], ["head"], ["layer4.0"]):
        with pytest.raises(ValueError, match="not blocks of a stage"):
            branch_blocks(backbone, bad)
    with pytest.raises(ValueError, match="repeat"):
        branch_blocks(backbone, ["layer1.1", "layer1.1"])
    with pytest.raises(ValueError, match="quarters"):
        branch_blocks(backbone, "halves")


# -- the record ----------------------------------------------------------------------------------------------------
def test_forward_returns_a_record_for_every_branch_and_the_main_classifier() -> None:
    net = network(26)
    x = images(5)
    record = net(x)
    assert isinstance(record, ForwardRecord)
    units = len(net.gated_blocks)
    assert units == 10  # 12 blocks, the first of stages 2 and 3 downsample (no identity shortcut)
    assert record.logits.shape == (7, 5, 10) and record.cost.shape == (7, 5) and record.ic_cost.shape == (6, 5)
    assert {k: tuple(v.shape) for k, v in record.decisions.items()} == {
        "options": (5, units), "fractions": (5, units), "layer_gates": (5, units), "channel_keep": (5, units)}
    assert record.expected_cost is not None and record.expected_cost.requires_grad
    assert bool((record.cost[1:] >= record.cost[:-1] - record.ic_cost).all())
    net.branches_enabled = False
    assert net(x).logits.shape == (1, 5, 10)


def test_gate_decisions_are_binary_and_the_cost_is_differentiable_to_both_gates() -> None:
    net = network(14).train()
    record = net(images())
    assert set(record.decisions["layer_gates"].unique().tolist()) <= {0.0, 1.0}
    assert record.expected_cost is not None
    record.expected_cost.sum().backward()
    layer_fc = net.layer_gate.fc.weight.grad  # type: ignore[union-attr]
    assert layer_fc is not None and float(layer_fc.abs().sum()) > 0
    channel = [g.fc.weight.grad for g in net.channel_gates.values()]  # type: ignore[union-attr]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in channel)


# -- Eq. 3 -----------------------------------------------------------------------------------------------------------
@contextmanager
def channel_gate_calls(net: DualDynamicNetwork) -> Iterator[dict[str, list[int]]]:
    """Batch sizes each channel gate was called with."""
    calls: dict[str, list[int]] = {name: [] for name in net.gated_blocks}
    handles = []
    for name in net.gated_blocks:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object, name: str = name) -> None:
            calls[name].append(inputs[0].shape[0])

        handles.append(net.channel_gates[name.replace(".", "_")].register_forward_hook(hook))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("training", [True, False])
def test_channel_gate_runs_only_on_samples_whose_layer_gate_is_one(training: bool) -> None:
    """Eq. 3 (Sec. 3.1.1): "we first compute the G^L output, and if it is zero, we do not compute G^C"."""
    x = images(32)
    closed = network(14, layer_bias_init=-BIG).train(training)
    with channel_gate_calls(closed) as calls:
        record = closed(x)
    assert float(record.decisions["layer_gates"].sum()) == 0
    assert all(not sizes for sizes in calls.values())  # never called
    opened = network(14, layer_bias_init=BIG).train(training)
    with channel_gate_calls(opened) as calls:
        opened(x)
    assert all(sizes == [32] for sizes in calls.values())
    half = mixed(14, training)
    with channel_gate_calls(half) as calls:
        record = half(x)
    ran = record.decisions["layer_gates"].sum(0).long().tolist()
    assert 0 < ran[0] < 32, "the test needs a block with mixed decisions"
    for name, r in zip(half.gated_blocks, ran, strict=True):
        assert calls[name] == ([r] if r else [])


def _block_io(net: DualDynamicNetwork, x: torch.Tensor) -> list[tuple[Mgl2sBlock, torch.Tensor, torch.Tensor,
                                                                          torch.Tensor | None, torch.Tensor]]:
    """Every MGL2S block's (block, input, layer gate, channel mask, output) of one forward."""
    seen = []
    handles = []
    for block in net.blocks:
        if isinstance(block, Mgl2sBlock):
            def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
                seen.append((module, args[0], args[1], output.channel_mask, output.features))  # type: ignore[attr-defined]

            handles.append(block.register_forward_hook(hook))
    net(x)
    for handle in handles:
        handle.remove()
    return seen  # type: ignore[return-value]


@pytest.mark.parametrize("training", [True, False])
def test_skipped_channels_and_skipped_blocks_pass_the_input_through(training: bool) -> None:
    """Eq. 3: where G^L G^C_j = 0, channel j of F_i is channel j of F_{i-1} bit for bit; where it is 1, it is the
    basic block's output C_i(F_{i-1}) (the identity shortcut included)."""
    net = mixed(14)
    x = images(24)
    with torch.no_grad():
        net.train(training)
        seen = _block_io(net, x)
        net.eval()  # C_i with the same (running) statistics for the reference below
        checked = {"passed": 0, "kept": 0, "skipped_blocks": 0}
        for block, inputs, gate, mask, out in seen:
            assert mask is not None and gate is not None
            effective = gate[:, None] * mask  # (N, k)
            passed = effective == 0
            expanded = passed[:, :, None, None].expand_as(out)
            assert torch.equal(out[expanded], inputs[expanded])
            if not training:
                reference = BasicBlock.forward(block, inputs)
                torch.testing.assert_close(out[~expanded], reference[~expanded])
            checked["passed"] += int(passed.sum())
            checked["kept"] += int((~passed).sum())
            checked["skipped_blocks"] += int((gate == 0).sum())
    assert min(checked.values()) > 0, checked


def test_a_skipped_block_does_not_run_in_evaluation() -> None:
    """Sparse inference: a closed layer gate costs the block nothing (its convs are not called)."""
    net = network(14, layer_bias_init=-BIG).eval()
    with counting(net.blocks[1]) as counts, torch.no_grad():  # layer1.0, gated
        net(images(4))
    assert counts["macs"] == 0


def test_sparse_inference_equals_dense_inference() -> None:
    net = mixed(14)
    x = images(32)
    with torch.no_grad():
        sparse = net(x)
        net.sparse_inference = False
        dense = net(x)
    torch.testing.assert_close(sparse.logits, dense.logits)
    assert torch.equal(sparse.cost, dense.cost)


def test_intermediate_site_masks_conv1_channels() -> None:
    """The other reading of the channel gate (METHODS.md 4.7): conv1's output channels masked before conv2."""
    net = mixed(14, site="intermediate")
    with torch.no_grad():
        for block, inputs, gate, mask, out in _block_io(net, images(8)):
            assert mask is not None and gate is not None
            middle = torch.relu(block.conv1(inputs)) * mask[:, :, None, None]
            residual = torch.relu(block.conv2(middle) + inputs)
            expected = gate[:, None, None, None] * residual + (1 - gate[:, None, None, None]) * inputs
            torch.testing.assert_close(out, expected)


# -- costs -------------------------------------------------------------------------------------------------------------
def _reference_costs(net: DualDynamicNetwork, record: ForwardRecord) -> torch.Tensor:
    """The record's ``(E, N)`` costs recomputed by the torch-free reference of spaces.cost from its decisions."""
    options = record.decisions["options"].tolist()
    fractions = record.decisions["fractions"].tolist() if "fractions" in record.decisions else None
    cumulative = cumulative_bops(net.table, options, fractions)
    rows = []
    for branch, head in zip(net.active_branches, net.branch_bops, strict=True):
        position = net.table.order.index(branch)
        rows.append([sample[position] + head for sample in cumulative])
    rows.append(per_sample_bops(net.table, options, fractions))
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("gates", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("training", [True, False])
def test_per_sample_cost_equals_the_torch_free_reference(gates: tuple[bool, bool], training: bool) -> None:
    net = mixed(26, training, layer_gate=gates[0], channel_gate=gates[1])
    record = net(images(12))
    torch.testing.assert_close(record.cost, _reference_costs(net, record), rtol=1e-12, atol=0)
    assert len(set(record.cost[-1].tolist())) > 1  # the costs do vary per sample
    expected = ddi_cost_table(net.backbone, layer_gate=gates[0], channel_gate=gates[1], site="output")
    assert net.table == expected


@pytest.mark.parametrize("channel_gate", [False, True])
def test_per_sample_cost_equals_hook_counted_macs_of_what_ran(channel_gate: bool) -> None:
    """One sample at a time in evaluation: the MACs the torch modules really executed (gates, blocks the layer gate
    opened, every branch head) against the record. Layer-only: equal. MGL2S: the masked conv2 filters still run
    (per-sample channel subsets are masked, not sliced), so the hooks count (1 - r) x conv2 more per run block."""
    net = mixed(26, channel_gate=channel_gate)
    conv2 = {name: net.backbone.block(name).main_path[1].macs for name in net.gated_blocks}
    seen_skips = 0
    with torch.no_grad():
        for x in images(6).split(1):
            with counting(net) as counts:
                record = net(x)
            priced = (float(record.cost[-1, 0]) + float(record.ic_cost[:, 0].sum())) / BOPS_PER_MAC
            gates = record.decisions["layer_gates"][0].tolist()
            masked = 0.0
            if channel_gate:
                kept = record.decisions["fractions"][0].tolist()
                masked = sum(g * (1 - r) * conv2[name] for g, r, name in zip(gates, kept, net.gated_blocks,
                                                                               strict=True))
            assert counts["macs"] == pytest.approx(priced + masked, rel=1e-12)
            seen_skips += gates.count(0.0)
    assert seen_skips > 0


def test_gate_overhead_from_the_layer_specs_equals_hook_counted_macs() -> None:
    """Claim D6 (part 2): with every gate open, the gates' hook-counted MACs equal the LayerSpecs' (the layer gate's
    fixed pieces and the channel gates inside each block's run option)."""
    net = network(26, layer_bias_init=BIG, channel_bias_init=BIG).eval()
    gates = nn.ModuleList([net.layer_gate, net.channel_gates])  # type: ignore[list-item]
    with counting(gates) as counts, torch.no_grad():
        net(images(1))
    specs = 0
    for name in net.gated_blocks:
        conv1 = net.backbone.block(name).main_path[0]
        specs += sum(s.macs for s in recurrent_gate_layers(name, conv1.in_channels, 1))
        specs += sum(s.macs for s in channel_gate_layers(name, conv1.in_channels, conv1.in_size, conv1.out_channels))
    assert counts["macs"] == specs
    table = net.table
    priced = sum(table.fixed_bops[f"{u}.gate"] + table.bops[u]["full"] - net.backbone.block(u).macs * BOPS_PER_MAC
                 for u in table.units)
    assert priced == specs * BOPS_PER_MAC


# -- ablations and the base network -----------------------------------------------------------------------------------
def test_layer_only_and_channel_only_switch_the_other_gate_off() -> None:
    x = images(16)
    layer_only = mixed(14, channel_gate=False)
    assert len(layer_only.channel_gates) == 0 and layer_only.layer_gate is not None
    record = layer_only(x)
    assert "fractions" not in record.decisions
    assert torch.equal(record.decisions["channel_keep"], record.decisions["layer_gates"])
    assert layer_only.channel_keep_ratio(record) == 1.0
    channel_only = mixed(14, layer_gate=False)
    assert channel_only.layer_gate is None and len(channel_only.channel_gates) == len(channel_only.gated_blocks)
    record = channel_only(x)
    assert bool((record.decisions["layer_gates"] == 1).all()) and bool((record.decisions["options"] == 0).all())
    assert channel_only.skip_ratio(record) == 0.0 and channel_only.channel_keep_ratio(record) < 1.0
    with pytest.raises(ValueError, match="layer gate, the channel gate or both"):
        DualDynamicNetwork(tiny(), layer_gate=False, channel_gate=False)


@pytest.mark.parametrize("gates", [(True, True), (True, False), (False, True)])
def test_gates_forced_open_give_exactly_the_base_network(gates: tuple[bool, bool]) -> None:
    net = network(14, layer_gate=gates[0], channel_gate=gates[1], layer_bias_init=BIG, channel_bias_init=BIG).eval()
    x = images(8)
    with torch.no_grad():
        gated = net(x)
        net.gates_enabled = False
        base = net(x)
    assert net.skip_ratio(gated) == 0.0 and net.channel_keep_ratio(gated) == 1.0
    assert torch.equal(gated.logits, base.logits)
    assert torch.equal(net.relative_cost(base), torch.ones(8, dtype=torch.float64))
    assert bool((net.relative_cost(gated) > 1).all())  # the gates' overhead on top of the base


def test_layer_gates_forced_closed_leave_only_the_ungated_blocks() -> None:
    net = network(14, layer_bias_init=-BIG).eval()
    x = images(8)
    with torch.no_grad():
        record = net(x)
        h = x
        for name, block in zip(net.block_names, net.blocks, strict=True):
            if name not in net.gated_blocks:
                h = block(h)
        expected = net.head(h)
    assert net.skip_ratio(record) == 1.0
    assert torch.equal(record.logits[-1], expected)
    ungated = sum(net.backbone.block(n).macs for n in net.block_names if n not in net.gated_blocks)
    gate_pieces = sum(net.table.fixed_bops[f"{u}.gate"] for u in net.gated_blocks)
    head = net.backbone.block("head").macs
    assert float(record.cost[-1, 0]) == (ungated + head) * BOPS_PER_MAC + gate_pieces


def test_load_base_state_from_a_full_precision_multi_exit_network() -> None:
    """The base weights W come from the platform's full-precision network of the same backbone (same names)."""
    space = load_space("tiny-digits")
    torch.manual_seed(0)
    base = build_pretraining_network(space).eval()
    net = DualDynamicNetwork(space.backbone)
    net.load_base_state(base.state_dict())
    net.gates_enabled = False
    net.eval()
    x = torch.randn(4, space.backbone.in_channels, space.backbone.input_size, space.backbone.input_size)
    with torch.no_grad():
        assert torch.equal(net(x).logits[-1], base(x)[-1])
    with pytest.raises(KeyError, match="lacks"):
        net.load_base_state({})


def test_freeze_base_trains_only_the_gates_and_keeps_base_statistics() -> None:
    """The gate warm-up (Sec. 4.1): W fixed (no gradient, batch norms in evaluation mode), G trained."""
    net = network(14)
    net.freeze_base()
    net.train()
    assert net.base_frozen
    assert not any(p.requires_grad for p in net.base_parameters())
    assert all(p.requires_grad for p in net.gate_parameters() + net.branch_parameters())
    norms = [m for m in net.blocks.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    record = net(images())
    assert record.expected_cost is not None
    (nn.functional.cross_entropy(record.logits[-1], torch.arange(16) % 10) + record.expected_cost.mean() / 1e7
     ).backward()
    optimizer.step()
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.split(".", 1)[0] in ("layer_gate", "channel_gates") for k in changed), changed
    assert set(net.gate_prefixes()) == {"layer_gate", "channel_gates"}
    net.freeze_base(False)
    assert all(p.requires_grad for p in net.base_parameters()) and all(m.training for m in norms)


def test_skip_and_channel_keep_ratios_by_hand() -> None:
    logits = torch.zeros(1, 2, 3)
    gates = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    keep = torch.tensor([[0.5, 0.0], [1.0, 0.25]])
    record = ForwardRecord.static(logits, [1.0], [], {"layer_gates": gates, "channel_keep": keep})
    assert DualDynamicNetwork.skip_ratio(record) == pytest.approx(0.25)
    assert DualDynamicNetwork.channel_keep_ratio(record) == pytest.approx((0.5 + 1.0 + 0.25) / 3)


def test_blocks_without_an_identity_shortcut_cannot_be_gated() -> None:
    with pytest.raises(ValueError, match="identity shortcut"):
        DualDynamicNetwork(tiny(), gated=["layer2.0"])
    with pytest.raises(ValueError, match="site"):
        DualDynamicNetwork(tiny(), site="input")  # type: ignore[arg-type]


def test_the_record_feeds_the_early_exit_evaluation_under_a_per_sample_cap() -> None:
    """RADI's test phase on one cached pass: entropy thresholds per branch and DDI's hard per-sample budget."""
    net = mixed(26)
    x = images(32)
    labels = torch.arange(32) % 10
    with torch.no_grad():
        record = net(x)
    evaluation = record.evaluation(labels)
    cap = float(record.cost[3].median())
    exits = evaluation.assign(NEVER, "entropy", cap=cap)
    deepest = [max(e for e in range(net.num_exits) if e == 0 or record.cost[e, n] <= cap) for n in range(32)]
    assert exits.tolist() == deepest  # no threshold fires: each sample answers at its deepest exit within the cap
    assert len(set(deepest)) > 1  # per-sample costs: the cap stops samples at different branches
    metrics = evaluation.metrics([0.5] * 6, "entropy")
    assert metrics.num_exits == 7 and 0.0 <= metrics.early_exit_accuracy <= 1.0
