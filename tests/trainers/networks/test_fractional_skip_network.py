"""FractionalSkipNetwork (DFS Eq. 1): the first block never skips, skip on a downsampling block is the shortcut, the
per-sample cost equals the torch-free cost model's for the decisions taken (all-8-bit: cp exactly 1/16), inference
computes only the chosen options, one weight tensor per conv whatever the option list, and step 1's frozen base."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spaces.backbones import Backbone
from spaces.backbones.resnet_cifar import resnet_cifar
from spaces.backbones.resnet_imagenet import resnet18
from spaces.cost import compute_percentage, cumulative_bops, dfs_cost_table, per_sample_bops
from spaces.dimensions import BitWidth
from trainers.early_exit import ForwardRecord
from trainers.networks.fractional_skip_network import FractionalBlock, FractionalSkipNetwork, decision_counts
from trainers.networks.recurrent_gate import GateStep
from trainers.networks.shared_quant_conv import SharedQuantConvBN
from trainers.training.schedule import TrainingSchedule

OPTIONS = ("skip", 8, 16, "full")


def _backbone(depth: int = 14) -> Backbone:
    return resnet_cifar(depth=depth, width=4, input_size=8, in_channels=1, num_classes=10)


def _net(depth: int = 14, options: tuple = OPTIONS, **kwargs: object) -> FractionalSkipNetwork:
    return FractionalSkipNetwork(_backbone(depth), options, **kwargs)  # type: ignore[arg-type]


def _x(n: int = 6) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8)


def _always(net: FractionalSkipNetwork, option: int) -> None:
    """Every gate picks ``option`` for every sample (the shared FC's bias dominates)."""
    with torch.no_grad():
        net.gate.fc.weight.zero_()
        net.gate.fc.bias.fill_(-5.0)
        net.gate.fc.bias[option] = 5.0


@contextmanager
def _forced(net: FractionalSkipNetwork, index: torch.Tensor) -> Iterator[None]:
    """The gates take the decisions ``index`` ``(N, U)`` (straight-through in training, so the gradient still reaches
    the gate's softmax)."""
    real = net.gate.step

    def step(i: int, x: torch.Tensor, state: object = None) -> GateStep:
        out = real(i, x, state)  # type: ignore[arg-type]
        hard = F.one_hot(index[:, i], net.num_options).to(out.probs.dtype)
        decision = hard + (out.probs - out.probs.detach()) if net.training else hard
        return GateStep(out.logits, out.probs, decision, out.state)

    net.gate.step = step  # type: ignore[method-assign]
    try:
        yield
    finally:
        del net.gate.step


def _warm(net: FractionalSkipNetwork, x: torch.Tensor) -> None:
    """One training pass, so the activation ranges and BN statistics exist, then eval."""
    net.train()
    with torch.no_grad():
        net(x)
    net.eval()


# -- the record --------------------------------------------------------------------------------------------------------
def test_forward_returns_a_priced_record() -> None:
    torch.manual_seed(0)
    net = _net()
    record = net(_x())
    assert isinstance(record, ForwardRecord)
    units = len(net.gated_blocks)
    assert net.gated_blocks == ("layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1")
    assert tuple(record.logits.shape) == (1, 6, 10)
    assert tuple(record.cost.shape) == (1, 6) and record.ic_cost.shape[0] == 0
    assert tuple(record.decisions["options"].shape) == (6, units)
    assert tuple(record.decisions["weights"].shape) == (6, units, 4)
    assert record.decisions["weights"].requires_grad
    assert record.expected_cost is not None and record.expected_cost.requires_grad
    torch.testing.assert_close(record.expected_cost.detach(), record.cost[0])


def test_the_first_block_always_runs_at_full_precision_and_cannot_be_gated() -> None:
    torch.manual_seed(0)
    net = _net()
    assert "layer1.0" not in net.gated_blocks
    assert net.blocks[0].options == ("full",)
    with pytest.raises(ValueError, match="always runs at full precision"):
        _net(gated=("layer1.0", "layer1.1"))
    _always(net, 0)  # every gated block skips
    x = _x()
    _warm(net, x)
    with torch.no_grad():
        record = net(x)
        assert torch.equal(record.decisions["options"], torch.zeros_like(record.decisions["options"]))
        h = net.blocks[0].run(net.stem(x), None)  # the first block, executed at full precision
        for block in net.blocks[1:]:
            h = block.shortcut(h)  # type: ignore[operator]
        torch.testing.assert_close(record.logits[0], net.head(h))
        # ... and differs from a network whose first block were skipped too
        assert not torch.allclose(record.logits[0], net.head(_shortcuts(net, net.stem(x))))
    assert float(net.compute_percentage(record).max()) == 0.0


def _shortcuts(net: FractionalSkipNetwork, h: torch.Tensor) -> torch.Tensor:
    for block in net.blocks:
        h = block.shortcut(h)  # type: ignore[operator]
    return h


def test_skip_on_a_downsampling_block_passes_the_option_a_shortcut() -> None:
    torch.manual_seed(0)
    net = _net()
    _always(net, 0)
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [block.register_forward_hook(lambda m, i, o, n=name: seen.__setitem__(n, (i[0], o)))
               for name, block in zip(net.block_names, net.blocks, strict=True)]
    net.train()
    net(_x())
    for handle in handles:
        handle.remove()
    x, out = seen["layer2.0"]
    assert tuple(x.shape[1:]) == (4, 8, 8) and tuple(out.shape[1:]) == (8, 4, 4)
    expected = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2))  # subsample, zero channels on both sides
    assert torch.equal(out, expected)
    x, out = seen["layer1.1"]  # identity shortcut: the input itself
    assert torch.equal(out, x)


def test_skip_on_an_option_b_block_passes_its_full_precision_projection() -> None:
    torch.manual_seed(0)
    backbone = resnet18(num_classes=10, input_size=32, in_channels=1)
    net = FractionalSkipNetwork(backbone, OPTIONS).eval()
    _always(net, 0)
    block = net.blocks[net.block_names.index("layer2.0")]
    assert isinstance(block, FractionalBlock) and block.downsample is not None
    x = torch.relu(torch.randn(2, 64, 8, 8))
    with torch.no_grad():
        skipped = block(x, F.one_hot(torch.zeros(2, dtype=torch.long), 4).float())
        assert torch.equal(skipped, block.downsample(x, None))
        record = net(torch.randn(2, 1, 32, 32))
    assert "layer2.0.shortcut" in net.table.fixed_bops  # priced whatever the option, as the cost model does
    torch.testing.assert_close(record.cost[0].to(torch.float64),
                               torch.tensor(per_sample_bops(net.table, record.decisions["options"].tolist()),
                                            dtype=torch.float64))


# -- the cost of the decisions taken -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "cp"), [(0, 0.0), (1, 1 / 16), (2, 1 / 4), (3, 1.0)])
def test_uniform_decisions_give_the_papers_cp(option: int, cp: float) -> None:
    """DFS Sec. 4: an 8-bit block costs 8/32 x 8/32 = 1/16 of the full block; all-8-bit is cp 6.25 % (Fig. 10)."""
    torch.manual_seed(0)
    net = _net()
    _always(net, option)
    with torch.no_grad():
        record = net(_x())
    assert torch.equal(record.decisions["options"], torch.full((6, 5), option))
    assert torch.equal(net.compute_percentage(record), torch.full((6,), cp, dtype=torch.float64))


def test_per_sample_cost_equals_the_torch_free_reference_for_the_decisions_taken() -> None:
    torch.manual_seed(0)
    net = _net()
    index = torch.randint(0, 4, (16, len(net.gated_blocks)))
    with _forced(net, index):
        record = net(torch.randn(16, 1, 8, 8))
    assert torch.equal(record.decisions["options"], index)
    taken = index.tolist()
    # the table the network was built from ...
    expected = torch.tensor(per_sample_bops(net.table, taken), dtype=torch.float64)
    torch.testing.assert_close(record.cost[0], expected, rtol=1e-12, atol=0)
    cumulative = torch.tensor(cumulative_bops(net.table, taken), dtype=torch.float64)
    torch.testing.assert_close(net.cost.cumulative(record.decisions["options"]), cumulative, rtol=1e-12, atol=0)
    # ... is the cost model's own (gates included), and cp is its compute_percentage
    reference = dfs_cost_table(_backbone(), OPTIONS, gates=True)
    torch.testing.assert_close(record.cost[0], torch.tensor(per_sample_bops(reference, taken), dtype=torch.float64),
                               rtol=1e-12, atol=0)
    torch.testing.assert_close(net.compute_percentage(record),
                               torch.tensor(compute_percentage(reference, taken), dtype=torch.float64))
    torch.testing.assert_close(net.compute_percentage(record, differentiable=True).detach(),
                               net.compute_percentage(record))


def test_without_gate_counting_the_cost_is_the_plain_dfs_table() -> None:
    torch.manual_seed(0)
    net = _net(count_gates=False)
    index = torch.randint(0, 4, (5, len(net.gated_blocks)))
    with _forced(net, index):
        record = net(_x(5))
    plain = dfs_cost_table(_backbone(), OPTIONS)
    expected = torch.tensor(per_sample_bops(plain, index.tolist()), dtype=torch.float64)
    torch.testing.assert_close(record.cost[0], expected, rtol=1e-12, atol=0)


# -- Eq. 1: the mix and the gradient -----------------------------------------------------------------------------------
def test_each_sample_gets_its_chosen_options_output() -> None:
    torch.manual_seed(0)
    net = _net()
    x = _x(8)
    _warm(net, x)
    index = torch.randint(0, 4, (8, len(net.gated_blocks)))
    with _forced(net, index), torch.no_grad():
        net.grouped_inference = False
        dense = net(x).logits[0]
        net.grouped_inference = True
        grouped = net(x).logits[0]
        for n in range(8):  # sample by sample, option by option, by hand
            h = net.blocks[0](net.stem(x[n:n + 1]))
            for u, block in enumerate(net.blocks[1:]):
                h = block.option(h, int(index[n, u]))  # type: ignore[operator]
            torch.testing.assert_close(dense[n], net.head(h)[0])
    torch.testing.assert_close(grouped, dense)


def test_the_gradient_reaches_the_gate_through_the_mixed_outputs() -> None:
    torch.manual_seed(0)
    net = _net()
    record = net(_x())
    F.cross_entropy(record.logits[0], torch.randint(0, 10, (6,))).backward()
    for p in net.gate.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert net.gate.fc.weight.grad is not None and net.gate.fc.weight.grad.abs().sum() > 0


@contextmanager
def _conv_rows(net: FractionalSkipNetwork) -> Iterator[dict[str, int]]:
    """MACs the gated blocks' convs really run, counted by forward hooks (samples x per-sample MACs)."""
    counts = {"macs": 0}
    gated = [net.blocks[net.block_names.index(name)] for name in net.gated_blocks]

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, SharedQuantConvBN)
        counts["macs"] += output.shape[0] * output[0].numel() * module.conv.weight[0].numel()

    handles = [m.register_forward_hook(hook) for block in gated for m in block.modules()
               if isinstance(m, SharedQuantConvBN)]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def test_inference_computes_only_the_chosen_options() -> None:
    torch.manual_seed(0)
    net = _net()
    x = _x(10)
    _warm(net, x)
    index = torch.randint(0, 4, (10, len(net.gated_blocks)))
    block_macs = torch.tensor([_backbone().block(name).macs for name in net.gated_blocks])
    with _forced(net, index), torch.no_grad():
        with _conv_rows(net) as counts:
            net(x)
        assert counts["macs"] == int(((index != 0) * block_macs).sum())  # skips run nothing
        net.grouped_inference = False
        with _conv_rows(net) as counts:
            net(x)
        assert counts["macs"] == 3 * 10 * int(block_macs.sum())  # the dense mix runs every non-skip option


# -- one weight tensor, any option list --------------------------------------------------------------------------------
def _base_parameter_count(net: FractionalSkipNetwork) -> int:
    return sum(p.numel() for p in net.base_parameters())


@pytest.mark.parametrize("options", [("skip", "full"), ("skip", 4, 8, "full"), (8, 16, "full"), ("skip", "W4A8")])
def test_any_option_list_shares_one_weight_tensor_per_conv(options: tuple) -> None:
    torch.manual_seed(0)
    net = _net(options=options)
    assert _base_parameter_count(net) == _base_parameter_count(_net(options=OPTIONS))
    convs = [name for name, _ in net.named_parameters() if name.endswith("conv.weight") and "gate" not in name]
    assert len(convs) == len([layer for layer in _backbone().layers if layer.kind == "conv"])
    record = net(_x())
    assert record.decisions["weights"].shape[-1] == len(options)
    assert net.gate.fc.out_features == len(options)


@pytest.mark.parametrize(("options", "message"), [(("skip",), "non-skip"), (("skip", 8, 8), "repeat"),
                                                  (("skip", 0), "1..32"), (("skip", 33), "1..32"),
                                                  (("skip", "half"), "cannot read")])
def test_bad_option_lists_are_refused(options: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _net(options=options)


def test_decision_counts_and_shares() -> None:
    net = _net()
    index = torch.tensor([[0, 1, 2, 3, 3], [0, 1, 1, 3, 0], [2, 1, 1, 3, 0], [0, 0, 1, 3, 0]])
    counts = decision_counts(index, 4)
    assert counts.tolist()[0] == [3, 0, 1, 0] and counts.tolist()[3] == [0, 0, 0, 4]
    shares = net.decision_shares(index)
    assert shares["layer1.1"] == {"skip": 0.75, "W8A8": 0.0, "W16A16": 0.25, "full": 0.0}
    assert all(sum(block.values()) == pytest.approx(1.0) for block in shares.values())
    assert net.decision_shares(counts=counts + counts) == shares


def test_dorefa_pact_networks_train_too() -> None:
    torch.manual_seed(0)
    net = _net(quantizer="dorefa_pact")
    record = net(_x())
    record.logits.sum().backward()
    assert any(name.endswith("act_quant.alpha") for name, _ in net.named_parameters())


# -- step 1: the frozen base -------------------------------------------------------------------------------------------
def test_freeze_base_trains_the_gates_only_and_keeps_the_base_statistics() -> None:
    torch.manual_seed(0)
    net = _net()
    net.freeze_base()
    assert net.base_frozen
    assert all(p.requires_grad for p in net.gate_parameters())
    net.train()
    assert all(not norm.training for norm in net.base_norms()) and net.gate.training
    base = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("gate.") and "act_quant" not in k}
    gate = {k: v.clone() for k, v in net.gate.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    for _ in range(3):
        record = net(_x(16))
        labels = torch.randint(0, 10, (16,))
        loss = F.cross_entropy(record.logits[0], labels) + record.decisions["weights"][..., 3].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in base.items())  # weights, BN affine and running statistics
    assert any(not torch.equal(net.gate.state_dict()[k], v) for k, v in gate.items())
    net.freeze_base(False)
    net.train()
    assert not net.base_frozen and all(norm.training for norm in net.base_norms())


def test_a_gates_only_schedule_freezes_exactly_the_base() -> None:
    net = _net()
    schedule = TrainingSchedule(trainable=("gate",))
    frozen = {id(p) for _, p in schedule.frozen_parameters(net)}
    assert frozen == {id(p) for p in net.base_parameters()}


# -- the base network A -----------------------------------------------------------------------------------------------
def test_without_gates_the_network_is_the_plain_full_precision_base() -> None:
    torch.manual_seed(0)
    net = _net()
    x = _x()
    _warm(net, x)
    net.gates_enabled = False
    with torch.no_grad():
        base = net(x)
        h = net.stem(x)
        for block in net.blocks:
            h = block.run(h, None)  # type: ignore[operator]
        torch.testing.assert_close(base.logits[0], net.head(h))
        net.gates_enabled = True
        _always(net, 3)  # every gate picks full: the same function as the base, priced with the gates
        full = net(x)
    torch.testing.assert_close(full.logits, base.logits)
    assert torch.equal(base.decisions["options"], torch.full((6, 5), 3))
    assert float(base.cost[0, 0]) == net.base_bops() == sum(
        layer.macs for layer in _backbone().layers) * 32 * 32
    assert float(full.cost[0, 0]) == pytest.approx(net.base_bops() + net.gate_macs() * 32 * 32, rel=1e-12)


def test_a_full_precision_multi_exit_network_loads_as_the_base(tiny_space: object) -> None:
    from spaces import SearchSpace
    from trainers.networks import build_pretraining_network
    from trainers.networks.fractional_skip_network import multi_exit_base_state

    assert isinstance(tiny_space, SearchSpace)
    torch.manual_seed(0)
    teacher = build_pretraining_network(tiny_space)
    teacher.train()
    x = torch.randn(12, tiny_space.backbone.in_channels, tiny_space.backbone.input_size,
                    tiny_space.backbone.input_size)
    with torch.no_grad():
        teacher(x)  # BN statistics that are not the defaults
    teacher.eval()
    net = FractionalSkipNetwork(tiny_space.backbone, ("skip", "full"))
    before = {k: v.clone() for k, v in net.gate.state_dict().items()}
    net.load_base_state(multi_exit_base_state(teacher.state_dict()))
    net.eval()
    net.gates_enabled = False
    with torch.no_grad():
        torch.testing.assert_close(net(x).logits[0], teacher(x)[-1])
    assert all(torch.equal(net.gate.state_dict()[k], v) for k, v in before.items())
    with pytest.raises(KeyError, match="lacks"):
        net.load_base_state({k: v for k, v in net.state_dict().items() if not k.startswith("head.")})


def test_the_base_state_does_not_depend_on_the_option_list() -> None:
    torch.manual_seed(0)
    source = _net(options=("skip", "full"))
    target = _net(options=OPTIONS)
    target.load_base_state(source.state_dict())
    target.gates_enabled = source.gates_enabled = False
    x = _x()
    source.eval(), target.eval()
    with torch.no_grad():
        torch.testing.assert_close(target(x).logits, source(x).logits)


@pytest.mark.parametrize("quantizer", ["minmax", "dorefa_pact"])
def test_fixed_bits_run_and_price_the_ungated_pieces_at_k_bits(quantizer: str) -> None:
    """``fixed_bits`` (the combined space of issue 18): with the gates on, the stem's weights, the first block and the
    FC run at k bits and each sample pays the table's k-bit fixed pieces; with the gates off the same weights give
    the plain full-precision base, exactly as a net without ``fixed_bits``."""
    torch.manual_seed(0)
    plain = _net(options=("skip", 2, 4, 8), quantizer=quantizer)
    torch.manual_seed(0)
    fixed = _net(options=("skip", 2, 4, 8), quantizer=quantizer, fixed_bits=8)
    own = fixed.state_dict()  # the same weights (a fixed-bit net's stem has its quantizer's own input range)
    fixed.load_state_dict({**own, **{k: v for k, v in plain.state_dict().items() if k in own}})
    plain.eval(), fixed.eval()
    x = _x()
    plain.gates_enabled = fixed.gates_enabled = False
    assert torch.equal(plain(x).logits, fixed(x).logits)
    plain.gates_enabled = fixed.gates_enabled = True
    _always(plain, 3), _always(fixed, 3)
    a, b = plain(x), fixed(x)
    assert not torch.allclose(a.logits, b.logits)
    eight = dfs_cost_table(_backbone(), ("skip", 2, 4, 8), fixed_bits=BitWidth(8, 8))
    gates = sum(v for k, v in fixed.table.fixed_bops.items() if k.endswith(".gate"))
    expected = eight.fixed_total + gates + sum(eight.bops[u]["W8A8"] for u in eight.units)
    assert torch.allclose(b.cost[-1], torch.full((x.shape[0],), expected, dtype=b.cost.dtype))
    assert float(a.cost[-1, 0] - b.cost[-1, 0]) == pytest.approx(
        dfs_cost_table(_backbone(), ("skip", 2, 4, 8)).fixed_total - eight.fixed_total)
    with pytest.raises(ValueError, match="fixed_bits cannot be skip"):
        _net(fixed_bits="skip")
