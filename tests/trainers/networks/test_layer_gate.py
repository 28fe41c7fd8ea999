"""DDI's layer gate G^L (Sec. 3.1.2, Fig. 2a): straight-through binarisation (forward exactly 0/1, backward the
sigmoid's gradient), the shared LSTM stepping once per gated block, and its MACs equal to the cost model's specs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.cost.option_costs import ddi_cost_table, recurrent_gate_layers
from trainers.networks.layer_gate import LayerGate, hard_binary, straight_through_binary


def test_straight_through_binary_forward_is_exactly_0_or_1_and_backward_is_the_sigmoid_gradient() -> None:
    logits = torch.tensor([-3.0, -0.2, 0.0, 0.4, 5.0], requires_grad=True)
    probs = torch.sigmoid(logits)
    gate = straight_through_binary(probs)
    assert gate.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # p = 0.5 exactly gives 0
    weights = torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0])
    (gate * weights).sum().backward()
    p = probs.detach()
    torch.testing.assert_close(logits.grad, weights * p * (1 - p))


def test_hard_binary_has_no_gradient() -> None:
    probs = torch.tensor([0.2, 0.7], requires_grad=True)
    assert not hard_binary(probs).requires_grad
    assert hard_binary(probs).tolist() == [0.0, 1.0]


def _gate(channels: tuple[int, ...] = (4, 4, 8)) -> LayerGate:
    torch.manual_seed(0)
    return LayerGate.for_blocks([f"b{i}" for i in range(len(channels))], channels, init_std=0.5)


def test_steps_are_binary_in_training_and_evaluation_and_follow_the_sigmoid() -> None:
    gate = _gate()
    x = torch.randn(64, 4, 5, 5)
    gate.train()
    step = gate.step(0, x)
    assert set(step.gate.tolist()) <= {0.0, 1.0}
    assert torch.equal(step.gate, (step.prob > 0.5).float())
    torch.testing.assert_close(step.prob, torch.sigmoid(step.logit))
    assert 0 < int(step.gate.sum()) < 64  # the decision depends on the input
    assert step.gate.requires_grad
    step.gate.sum().backward()
    assert gate.fc.weight.grad is not None and gate.fc.weight.grad.abs().sum() > 0
    gate.eval()
    hard = gate.step(0, x)
    assert torch.equal(hard.gate, step.gate.detach())
    assert not hard.gate.requires_grad


def test_the_lstm_is_shared_and_carries_its_state_across_blocks() -> None:
    gate = _gate((4, 4))
    assert sum(isinstance(m, nn.LSTM) for m in gate.modules()) == 1
    assert len(gate.proj) == 2  # one 1x1 conv per gated block
    x = torch.randn(3, 4, 5, 5)
    first = gate.step(0, x)
    carried = gate.step(1, x, first.state)
    fresh = gate.step(1, x)
    assert not torch.allclose(carried.logit, fresh.logit)
    with pytest.raises(IndexError):
        gate.step(2, x)


def test_gate_macs_from_the_specs_equal_hook_counted_macs_and_the_cost_table() -> None:
    """Claim D6 (part 2) for the layer gate: every block's gate step, counted by forward hooks on the torch modules
    (conv, LSTM, linear), costs what the LayerSpecs and the DDI cost table's fixed gate pieces say."""
    backbone = resnet_cifar(depth=14, width=4, input_size=8, in_channels=1)
    table = ddi_cost_table(backbone, channel_gate=False, site="output")
    channels = [backbone.block(name).main_path[0].in_channels for name in table.units]
    gate = LayerGate.for_blocks(table.units, channels)
    counted = {"macs": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        if isinstance(module, nn.Conv2d):
            assert isinstance(output, torch.Tensor)
            counted["macs"] += output[0].numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            counted["macs"] += module.in_features * module.out_features
        elif isinstance(module, nn.LSTM):
            counted["macs"] += inputs[0].shape[0] * (module.weight_ih_l0.numel() + module.weight_hh_l0.numel())

    handles = [m.register_forward_hook(hook) for m in gate.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.LSTM)]
    state = None
    for u, c in enumerate(channels):
        state = gate.step(u, torch.randn(1, c, 4, 4), state).state
    for handle in handles:
        handle.remove()
    specs = sum(spec.macs for c in channels for spec in recurrent_gate_layers("g", c, 1))
    assert counted["macs"] == gate.macs() == specs
    assert sum(table.fixed_bops[f"{u}.gate"] for u in table.units) == specs * 32 * 32


def test_gaussian_init_and_output_bias() -> None:
    torch.manual_seed(1)
    gate = LayerGate.for_blocks(["a"], [64], init_std=0.2, bias_init=1.5)
    assert gate.fc.bias.item() == 1.5
    with torch.no_grad():
        assert float(gate.lstm.bias_ih_l0.abs().sum()) == 0.0 and float(gate.proj[0].bias.abs().sum()) == 0.0
        assert abs(float(gate.proj[0].weight.std()) - 0.2) < 0.05
    assert torch.equal(gate.step(0, torch.zeros(2, 64, 3, 3)).prob, torch.sigmoid(torch.tensor([1.5, 1.5])))


def test_specs_that_are_not_ddi_layer_gates_are_rejected() -> None:
    with pytest.raises(ValueError, match="one \\(sigmoid\\) output"):
        LayerGate([recurrent_gate_layers("a", 4, 2)])
    with pytest.raises(ValueError, match="share the LSTM"):
        LayerGate([recurrent_gate_layers("a", 4, 1), recurrent_gate_layers("b", 4, 1, hidden=7)])
    with pytest.raises(ValueError, match="at least one"):
        LayerGate([])
