"""Decisions times the option cost table in torch (METHODS.md G1): gate and channel-gated MACs against forward hooks
on equivalent torch modules, the torch per-sample cost against the torch-free reference, gradients through soft and
straight-through decisions (DFS Eq. 2's E, DDI Eq. 5), and ``ForwardRecord.from_decisions``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from spaces.backbones import LayerSpec
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost import (
    FULL,
    SKIP,
    OptionCostTable,
    channel_fraction_bops,
    channel_gate_layers,
    compute_percentage,
    cumulative_bops,
    ddi_cost_table,
    dfs_cost_table,
    onion_cost_table,
    per_sample_bops,
    recurrent_gate_layers,
)
from spaces.dimensions import BitWidth
from trainers.early_exit import DynamicCost, ForwardRecord, cumulative_dynamic_cost, dynamic_cost


# -- MACs counted by forward hooks ------------------------------------------------------------------------------------
def _hook_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> int:
    """MACs of one forward call per sample, from the module's weights and the tensors that went through it."""
    if isinstance(module, nn.Conv2d):
        out = output
        assert isinstance(out, torch.Tensor)
        per_output = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        return out[0].numel() * per_output
    if isinstance(module, nn.Linear):
        assert isinstance(output, torch.Tensor)
        return output[0].numel() * module.in_features
    if isinstance(module, nn.LSTM):
        steps = inputs[0].shape[0]  # (L, N, H_in): every step multiplies both weight matrices once
        return steps * (module.weight_ih_l0.numel() + module.weight_hh_l0.numel())
    raise TypeError(type(module))


@contextmanager
def counting(*modules: nn.Module) -> Iterator[dict[str, int]]:
    counts = {"macs": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        counts["macs"] += _hook_macs(module, inputs, output)

    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def _torch_layer(spec: LayerSpec) -> nn.Module:
    if spec.kind == "conv":
        return nn.Conv2d(spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, spec.padding,
                         groups=spec.groups, bias=False)
    if spec.kind == "linear":
        return nn.Linear(spec.in_channels, spec.out_channels)
    return nn.LSTM(spec.in_channels, spec.out_channels)


@pytest.mark.parametrize(("in_channels", "in_size", "outputs"), [(16, 32, 4), (64, 8, 1), (3, 5, 2)])
def test_recurrent_gate_macs_match_forward_hooks(in_channels: int, in_size: int, outputs: int) -> None:
    """DFS/DDI's gate: pool -> 1x1 conv -> one LSTM step -> linear, built from the specs and run."""
    specs = recurrent_gate_layers("g", in_channels, outputs)
    proj, lstm, fc = (_torch_layer(spec) for spec in specs)
    assert isinstance(lstm, nn.LSTM)
    x = torch.randn(2, in_channels, in_size, in_size)
    with counting(proj, lstm, fc) as counts:
        pooled = nn.functional.adaptive_avg_pool2d(x, 1)
        step, _ = lstm(proj(pooled).flatten(1).unsqueeze(0))  # sequence of one step
        fc(step[0])
    assert counts["macs"] == sum(spec.macs for spec in specs)
    assert [sum(p.numel() for p in m.parameters()) for m in (proj, lstm)] == [specs[0].params, specs[1].params]
    assert sum(p.numel() for p in fc.parameters()) == specs[2].params


def test_a_shared_lstm_costs_one_step_per_gated_block() -> None:
    blocks = 5
    spec = recurrent_gate_layers("g", 8, 4)[1]
    lstm = _torch_layer(spec)
    with counting(lstm) as counts:
        lstm(torch.randn(blocks, 3, spec.in_channels))
    assert counts["macs"] == blocks * spec.macs


def test_lstm_macs_match_a_flop_counted_equivalent() -> None:
    """Independent of the hook: one LSTM step written with linear layers (same weights, same output) under torch's
    FLOP counter (2 FLOPs per MAC)."""
    spec = LayerSpec("g.lstm", "lstm", 10, 7, role="gate")
    lstm = _torch_layer(spec)
    assert isinstance(lstm, nn.LSTM)
    x, h, c = torch.randn(1, 3, 10), torch.randn(1, 3, 7), torch.randn(1, 3, 7)
    expected, (_, c1) = lstm(x, (h, c))
    with FlopCounterMode(display=False) as flops:
        gates = (nn.functional.linear(x[0], lstm.weight_ih_l0, lstm.bias_ih_l0)
                 + nn.functional.linear(h[0], lstm.weight_hh_l0, lstm.bias_hh_l0))
    i, f, g, o = gates.chunk(4, dim=1)
    cell = torch.sigmoid(f) * c[0] + torch.sigmoid(i) * torch.tanh(g)
    hidden = torch.sigmoid(o) * torch.tanh(cell)
    torch.testing.assert_close(hidden, expected[0])
    torch.testing.assert_close(cell, c1[0])
    assert flops.get_total_flops() == 2 * 3 * spec.macs  # batch of 3


@pytest.mark.parametrize(("channels", "size", "out"), [(8, 16, 8), (16, 7, 32), (4, 8, 4)])
def test_channel_gate_macs_match_forward_hooks(channels: int, size: int, out: int) -> None:
    specs = channel_gate_layers("c", channels, size, out)
    conv, fc = (_torch_layer(spec) for spec in specs)
    with counting(conv, fc) as counts:
        fc(nn.functional.adaptive_avg_pool2d(conv(torch.randn(2, channels, size, size)), 1).flatten(1))
    assert counts["macs"] == sum(spec.macs for spec in specs)
    assert sum(p.numel() for p in conv.parameters()) == specs[0].params


@pytest.mark.parametrize("kept", [1, 3, 6, 8])
@pytest.mark.parametrize("site", ["intermediate", "output"])
def test_channel_fraction_matches_convs_with_the_kept_channels(kept: int, site: str) -> None:
    """DDI's channel gate, priced as ``fixed + r * scaled``, against the convs that really keep ``kept`` channels."""
    block = resnet_cifar(depth=20, width=8).block("layer1.1")
    spec1 = block.main_path[0]
    c = spec1.out_channels
    if site == "intermediate":  # conv1's output channels and conv2's input channels scale
        conv1 = nn.Conv2d(spec1.in_channels, kept, 3, 1, 1, bias=False)
        conv2 = nn.Conv2d(kept, c, 3, 1, 1, bias=False)
    else:  # conv2's output channels scale, conv1 runs whole
        conv1 = nn.Conv2d(spec1.in_channels, c, 3, 1, 1, bias=False)
        conv2 = nn.Conv2d(c, kept, 3, 1, 1, bias=False)
    x = torch.randn(1, spec1.in_channels, spec1.in_size, spec1.in_size)
    with counting(conv1, conv2) as counts:
        hidden = conv1(x)
        conv2(hidden)
    fixed, scaled = channel_fraction_bops(block, BitWidth(1, 1), site)  # type: ignore[arg-type]
    assert fixed + kept / c * scaled == pytest.approx(counts["macs"], rel=1e-12)


# -- torch side against the reference ---------------------------------------------------------------------------
BACKBONE = resnet_cifar(depth=20, width=8)
TABLES = {
    "dfs": dfs_cost_table(BACKBONE, gates=True),
    "skipnet": dfs_cost_table(BACKBONE, options=(SKIP, FULL)),
    "ddi": ddi_cost_table(BACKBONE),
    "ddi-output": ddi_cost_table(BACKBONE, site="output"),
    "dpoq": onion_cost_table(BACKBONE, (2, 4, 8, 16), 8, final_head_bops=640.0),
}


def _random_decisions(table: OptionCostTable, num_samples: int, seed: int) -> tuple[list[list[int]], list[list[float]]]:
    rng = random.Random(seed)
    index = [[rng.randrange(len(table.options[u])) for u in table.units] for _ in range(num_samples)]
    fractions = [[rng.choice([0.0, 0.125, 0.5, 0.875, 1.0, rng.random()]) for _ in table.units]
                 for _ in range(num_samples)]
    return index, fractions


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("seed", range(3))
def test_torch_cost_equals_the_reference(name: str, seed: int) -> None:
    table = TABLES[name]
    index, fractions = _random_decisions(table, 7, seed)
    model = DynamicCost(table)
    hard = torch.tensor(index)
    r = torch.tensor(fractions, dtype=torch.float64)
    expected = torch.tensor(per_sample_bops(table, index, fractions), dtype=torch.float64)
    torch.testing.assert_close(model(hard, r), expected, rtol=1e-13, atol=0.0)
    torch.testing.assert_close(model(model.one_hot(hard), r), expected, rtol=1e-13, atol=0.0)
    torch.testing.assert_close(dynamic_cost(table, hard, r), expected, rtol=1e-13, atol=0.0)
    reference = torch.tensor(cumulative_bops(table, index, fractions), dtype=torch.float64)
    torch.testing.assert_close(model.cumulative(hard, r), reference, rtol=1e-13, atol=0.0)
    torch.testing.assert_close(cumulative_dynamic_cost(table, hard, r), reference, rtol=1e-13, atol=0.0)
    # Without fractions everything keeps every channel.
    torch.testing.assert_close(model(hard), torch.tensor(per_sample_bops(table, index), dtype=torch.float64),
                               rtol=1e-13, atol=0.0)
    if FULL in table.options[table.units[0]]:
        cp = torch.tensor(compute_percentage(table, index, fractions), dtype=torch.float64)
        torch.testing.assert_close(model.compute_percentage(hard, r), cp, rtol=1e-13, atol=0.0)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_soft_decisions_give_the_expected_cost(name: str) -> None:
    table = TABLES[name]
    torch.manual_seed(0)
    logits = torch.randn(4, len(table.units), table.num_options)
    counts = torch.tensor([len(table.options[u]) for u in table.units])
    logits = logits.masked_fill(torch.arange(table.num_options) >= counts[:, None], float("-inf"))
    probs = logits.softmax(dim=-1).double()
    soft = [[tuple(row[: len(table.options[u])]) for u, row in zip(table.units, sample, strict=True)]
            for sample in probs.tolist()]
    expected = torch.tensor(per_sample_bops(table, soft), dtype=torch.float64)
    torch.testing.assert_close(DynamicCost(table)(probs), expected, rtol=1e-12, atol=0.0)


def test_the_dfs_cp_of_everyone_at_8_bits_is_one_sixteenth() -> None:
    table = TABLES["dfs"]
    at_8 = torch.full((3, len(table.units)), table.options[table.units[0]].index("W8A8"))
    assert DynamicCost(table).compute_percentage(at_8).tolist() == [1 / 16] * 3


def test_gradient_flows_through_soft_decisions_and_fractions() -> None:
    """DFS Eq. 2 / DDI Eq. 5: E is linear in the decisions, so dE/dd[n,u,o] is that option's cost."""
    table = TABLES["ddi"]
    model = DynamicCost(table)
    decisions = torch.rand(3, len(table.units), table.num_options, dtype=torch.float64, requires_grad=True)
    fractions = torch.rand(3, len(table.units), dtype=torch.float64, requires_grad=True)
    model(decisions, fractions).sum().backward()
    assert decisions.grad is not None and fractions.grad is not None
    expected = model.bops - model.scaled * (1 - fractions.detach()).unsqueeze(-1)
    torch.testing.assert_close(decisions.grad, expected)
    torch.testing.assert_close(fractions.grad, (decisions.detach() * model.scaled).sum(-1))
    assert float(fractions.grad.abs().sum()) > 0


def test_straight_through_decisions_price_the_hard_choice_and_pass_the_soft_gradient() -> None:
    """The DFS code's gate: hard = (p == max p), output = hard - p.detach() + p."""
    table = TABLES["dfs"]
    model = DynamicCost(table)
    logits = torch.randn(5, len(table.units), table.num_options, requires_grad=True)
    probs = logits.softmax(dim=-1)
    hard = nn.functional.one_hot(probs.argmax(-1), table.num_options).to(probs.dtype)
    straight = hard - probs.detach() + probs
    cost = model(straight)
    torch.testing.assert_close(cost, model(probs.argmax(-1)), rtol=1e-6, atol=0.0)
    (cost.sum() / table.reference_bops()).backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    probs_leaf = probs.detach().requires_grad_(True)
    model(probs_leaf).sum().backward()
    assert probs_leaf.grad is not None
    torch.testing.assert_close(probs_leaf.grad, model.bops.float().expand_as(probs_leaf))


def test_the_module_moves_and_casts() -> None:
    table = TABLES["dfs"]
    model = DynamicCost(table).to(torch.float32)
    assert model.bops.dtype == torch.float32 and model.unit_positions.dtype == torch.long
    decisions = torch.zeros(2, len(table.units), dtype=torch.long)
    assert model(decisions).dtype == torch.float32
    assert DynamicCost(table)(decisions).dtype == torch.float64


@pytest.mark.parametrize(("shape", "dtype", "match"), [
    ((2, 3), torch.long, "expected"), ((2, 17, 4), torch.float32, "expected"), ((2, 17, 5), torch.float32,
     "expected")])
def test_bad_decision_shapes_are_refused(shape: tuple[int, ...], dtype: torch.dtype, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DynamicCost(TABLES["skipnet"])(torch.zeros(shape, dtype=dtype))


def test_out_of_range_indices_and_bad_fractions_are_refused() -> None:
    table = TABLES["skipnet"]
    model = DynamicCost(table)
    with pytest.raises(ValueError, match="outside"):
        model(torch.full((1, len(table.units)), 2))
    with pytest.raises(ValueError, match="fractions"):
        model(torch.zeros(2, len(table.units), dtype=torch.long), torch.ones(2, 1))
    with pytest.raises(KeyError):
        model.position("nowhere")


# -- ForwardRecord.from_decisions ------------------------------------------------------------------------------------
SMALL = OptionCostTable(
    units=("a", "b"),
    options={"a": (SKIP, "W8A8", FULL), "b": (SKIP, FULL)},
    bops={"a": {SKIP: 0.0, "W8A8": 10.0, FULL: 160.0}, "b": {SKIP: 0.0, FULL: 100.0}},
    fixed_bops={"stem": 5.0, "gate": 1.0, "head": 2.0},
    order=("stem", "a", "gate", "b", "head"),
    scaled_bops={"b": {FULL: 60.0}},
)


def test_record_from_decisions_by_hand() -> None:
    logits = torch.randn(3, 4, 5)
    decisions = torch.tensor([[0, 0], [1, 1], [2, 1], [2, 0]])
    fractions = torch.tensor([[1.0, 1.0], [1.0, 0.5], [1.0, 1.0], [1.0, 1.0]])
    record = ForwardRecord.from_decisions(logits, SMALL, decisions, exit_after=("a", "gate"), ic_costs=(3.0, 4.0),
                                          fractions=fractions, extra_decisions={"gate_logits": torch.zeros(4, 2)})
    # Through "a": 5 + a; through "gate": 6 + a; total: 8 + a + b(r).
    assert record.cost.dtype == torch.float64
    assert record.cost.tolist() == [[8.0, 18.0, 168.0, 168.0], [10.0, 20.0, 170.0, 170.0],
                                    [8.0, 88.0, 268.0, 168.0]]
    assert record.ic_cost.tolist() == [[3.0] * 4, [4.0] * 4]
    assert record.expected_cost is not None
    assert record.expected_cost.tolist() == record.cost[-1].tolist()
    assert record.decisions["options"].tolist() == decisions.tolist()
    assert record.decisions["fractions"].tolist() == fractions.tolist()
    assert set(record.decisions) == {"options", "fractions", "gate_logits"}


def test_record_keeps_the_graph_only_in_expected_cost() -> None:
    logits = torch.randn(1, 4, 3)
    gate_logits = torch.randn(4, 2, 3, requires_grad=True)
    counts = torch.tensor([3, 2])
    probs = gate_logits.masked_fill(torch.arange(3) >= counts[:, None], float("-inf")).softmax(-1)
    hard = nn.functional.one_hot(probs.argmax(-1), 3).to(probs.dtype)
    record = ForwardRecord.from_decisions(logits, SMALL, hard - probs.detach() + probs)
    assert not record.cost.requires_grad
    assert record.expected_cost is not None and record.expected_cost.requires_grad
    record.expected_cost.sum().backward()
    assert gate_logits.grad is not None and float(gate_logits.grad.abs().sum()) > 0
    assert record.decisions["options"].tolist() == probs.argmax(-1).tolist()
    assert record.ic_cost.shape == (0, 4)


def test_record_with_per_sample_heads_and_a_shared_model() -> None:
    model = DynamicCost(SMALL)
    heads = torch.tensor([[1.0, 2.0]])
    record = ForwardRecord.from_decisions(torch.randn(2, 2, 3), model, torch.tensor([[0, 0], [2, 1]]), ("b",), heads)
    assert record.cost.tolist() == [[6.0 + 1.0, 266.0 + 2.0], [8.0, 268.0]]
    assert record.ic_cost.tolist() == heads.tolist()


def test_constant_decisions_give_the_static_record() -> None:
    """USDN's case: the same decision for every sample prices like ``ForwardRecord.static``."""
    logits = torch.randn(2, 6, 4)
    decisions = torch.tensor([[1, 1]] * 6)
    dynamic = ForwardRecord.from_decisions(logits, SMALL, decisions, ("a",), (3.0,))
    static = ForwardRecord.static(logits, (5.0 + 10.0 + 3.0, 8.0 + 10.0 + 100.0), (3.0,))
    assert torch.equal(dynamic.cost, static.cost) and torch.equal(dynamic.ic_cost, static.ic_cost)
    labels = torch.randint(0, 4, (6,))
    assert dynamic.evaluation(labels).metrics(0.5) == static.evaluation(labels).metrics(0.5)


@pytest.mark.parametrize(("exit_after", "ic_costs", "samples", "match"), [
    ((), (), 3, "IC positions"), (("a",), (1.0, 2.0), 3, "ic_costs"), (("a",), (1.0,), 2, "samples")])
def test_record_refuses_inconsistent_inputs(exit_after: tuple[str, ...], ic_costs: tuple[float, ...], samples: int,
                                            match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ForwardRecord.from_decisions(torch.randn(2, 3, 4), SMALL, torch.zeros(samples, 2, dtype=torch.long),
                                     exit_after, ic_costs)
