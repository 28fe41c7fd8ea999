"""DFS's recurrent gate: the straight-through one-hot (forward exactly one-hot, backward the softmax gradient), argmax
at inference, one LSTM shared by all blocks, and its MACs from the cost model's LayerSpecs against forward hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost import dfs_cost_table, recurrent_gate_layers
from trainers.networks.fractional_skip_network import FractionalSkipNetwork
from trainers.networks.recurrent_gate import RecurrentGate, hard_one_hot, straight_through_one_hot


def _tiny(depth: int = 14) -> FractionalSkipNetwork:
    return FractionalSkipNetwork(resnet_cifar(depth=depth, width=4, input_size=8, in_channels=1, num_classes=10))


# -- the straight-through one-hot ------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [2, 3, 4, 7])
def test_straight_through_forward_is_exactly_one_hot(options: int) -> None:
    torch.manual_seed(options)
    logits = torch.randn(500, options) * torch.logspace(-6, 1, 500).unsqueeze(1)  # near-ties to confident
    probs = logits.softmax(-1)
    decision = straight_through_one_hot(probs)
    expected = nn.functional.one_hot(probs.argmax(-1), options).to(probs.dtype)
    assert torch.equal(decision, expected)  # bit-exact 0 / 1 (not the softmax, not a rounded 1 - p + p)
    assert torch.equal(decision.sum(-1), torch.ones(500))


def test_ties_go_to_the_first_option() -> None:
    probs = torch.tensor([[0.5, 0.5], [0.3, 0.3]])
    assert torch.equal(hard_one_hot(probs), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))


@pytest.mark.parametrize("options", [2, 4])
def test_straight_through_backward_is_the_softmax_gradient(options: int) -> None:
    torch.manual_seed(0)
    logits = torch.randn(64, options, requires_grad=True)
    upstream = torch.randn(64, options)
    (straight_through_one_hot(logits.softmax(-1)) * upstream).sum().backward()
    assert logits.grad is not None
    through = logits.grad.clone()
    logits.grad = None
    (logits.softmax(-1) * upstream).sum().backward()
    torch.testing.assert_close(through, logits.grad, rtol=0, atol=0)
    # and by hand: J^T g with J = diag(p) - p p^T
    p = logits.softmax(-1).detach()
    by_hand = p * (upstream - (p * upstream).sum(-1, keepdim=True))
    torch.testing.assert_close(through, by_hand)


def test_hard_one_hot_has_no_gradient() -> None:
    probs = torch.randn(3, 4, requires_grad=True).softmax(-1)
    assert not hard_one_hot(probs).requires_grad


# -- the gate module ---------------------------------------------------------------------------------------------------
def _gate(projection: str = "per_block") -> RecurrentGate:
    return RecurrentGate.for_blocks(["a", "b", "c", "d"], [4, 4, 8, 8], 4, projection=projection)  # type: ignore[arg-type]


def test_training_decides_straight_through_and_eval_by_argmax() -> None:
    torch.manual_seed(0)
    gate = _gate()
    x = torch.randn(16, 4, 5, 5)
    step = gate.train().step(0, x)
    assert step.decision.requires_grad
    assert torch.equal(step.decision.detach(), hard_one_hot(step.probs))
    torch.testing.assert_close(step.probs, step.logits.softmax(-1))
    evaluated = gate.eval().step(0, x)
    assert not evaluated.decision.requires_grad
    assert torch.equal(evaluated.decision, nn.functional.one_hot(evaluated.probs.argmax(-1), 4).float())


def test_one_lstm_is_shared_and_carries_state_from_block_to_block() -> None:
    torch.manual_seed(0)
    gate = _gate()
    lstms = [m for m in gate.modules() if isinstance(m, nn.LSTM)]
    fcs = [m for m in gate.modules() if isinstance(m, nn.Linear)]
    assert len(lstms) == 1 and len(fcs) == 1
    assert (gate.lstm.input_size, gate.lstm.hidden_size, gate.fc.out_features) == (10, 10, 4)
    x = torch.randn(8, 4, 5, 5)
    first = gate.step(0, x)
    fresh, carried = gate.step(1, x), gate.step(1, x, first.state)
    assert not torch.allclose(fresh.logits, carried.logits)


@pytest.mark.parametrize(("projection", "convs"), [("per_block", 4), ("per_stage", 2)])
def test_projection_per_block_or_per_stage(projection: str, convs: int) -> None:
    gate = _gate(projection)
    assert len(gate.proj) == convs
    assert [gate.proj[i].in_channels for i in gate.proj_index] == [4, 4, 8, 8]
    assert gate.macs() == sum(spec.macs for c in (4, 4, 8, 8) for spec in recurrent_gate_layers("g", c, 4))


def test_inconsistent_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="share the LSTM"):
        RecurrentGate([recurrent_gate_layers("a", 4, 4), recurrent_gate_layers("b", 4, 3)])
    with pytest.raises(ValueError, match="conv, lstm, linear"):
        RecurrentGate([recurrent_gate_layers("a", 4, 4)[::-1]])
    with pytest.raises(ValueError, match="projection"):
        _gate("per_network")
    with pytest.raises(ValueError, match="at least one"):
        RecurrentGate([])
    with pytest.raises(IndexError):
        _gate().step(4, torch.randn(2, 4, 3, 3))


# -- MACs: the cost model's specs against hooks ------------------------------------------------------------------------
def _macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> int:
    """MACs of one call for one sample, from the weights and the tensors that went through."""
    if isinstance(module, nn.Conv2d):
        assert isinstance(output, torch.Tensor)
        return output[0].numel() * module.weight[0].numel()
    if isinstance(module, nn.Linear):
        assert isinstance(output, torch.Tensor)
        return output[0].numel() * module.in_features
    if isinstance(module, nn.LSTM):
        return inputs[0].shape[0] * (module.weight_ih_l0.numel() + module.weight_hh_l0.numel())
    raise TypeError(type(module))


@contextmanager
def _counting(modules: list[nn.Module]) -> Iterator[dict[str, int]]:
    counts = {"macs": 0, "calls": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        counts["macs"] += _macs(module, inputs, output)
        counts["calls"] += 1

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("projection", ["per_block", "per_stage"])
@pytest.mark.parametrize("options", [("skip", 8, 16, "full"), ("skip", "full")])
def test_gate_macs_from_the_layer_specs_equal_hook_counted_macs(projection: str, options: tuple) -> None:
    backbone = resnet_cifar(depth=14, width=4, input_size=8, in_channels=1, num_classes=10)
    net = FractionalSkipNetwork(backbone, options, projection=projection).eval()  # type: ignore[arg-type]
    modules = [m for m in net.gate.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.LSTM)]
    with _counting(modules) as counts, torch.no_grad():
        net(torch.randn(3, 1, 8, 8))
    assert counts["calls"] == 3 * len(net.gated_blocks)  # conv, LSTM step, FC per gated block
    reference = dfs_cost_table(backbone, options, gates=True)
    gate_pieces = {name: bops for name, bops in reference.fixed_bops.items() if name.endswith(".gate")}
    assert len(gate_pieces) == len(net.gated_blocks)
    assert counts["macs"] == net.gate_macs() == sum(gate_pieces.values()) / (32 * 32)
    # the network's own table prices the gates exactly as the cost model does
    assert {k: v for k, v in net.table.fixed_bops.items() if k.endswith(".gate")} == gate_pieces
    assert net.table.order == reference.order


def test_gate_parameters_match_the_specs() -> None:
    net = _tiny()
    specs = net.gate.specs
    conv_weights = sum(p.weight.numel() for p in net.gate.proj)  # type: ignore[union-attr]
    assert conv_weights == sum(block[0].params for block in specs)  # per-block convs (their biases apart)
    assert sum(p.numel() for p in net.gate.lstm.parameters()) == specs[0][1].params
    assert sum(p.numel() for p in net.gate.fc.parameters()) == specs[0][2].params
