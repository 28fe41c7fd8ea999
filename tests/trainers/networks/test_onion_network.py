"""The DPOQ onion network: (P, N, C) logits in one pass, claim P1 (lower outputs bit-identical whether higher
slices exist, are changed or are trained), ownership and freezing (the extension claim), per-path cost through
the slice modules, and a few SGD steps reducing the Eq. 5 loss. Tiny networks on 8x8 inputs."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from spaces.backbones import Backbone, BlockSpec, LayerSpec
from spaces.backbones.resnet_cifar import resnet_cifar
from trainers.networks.onion_network import OnionNetwork
from trainers.quantization import QuantLinear
from trainers.quantization.onion_bits import slice_bits
from trainers.training.onion_loss import onion_loss, per_precision_losses

BIT_LIST = (2, 4, 8, 16)
VARIANTS = [(True, "per_path"), (False, "per_path"), (True, "onion"), (False, "onion")]


def _resnet8() -> Backbone:
    return resnet_cifar(depth=8, width=4, input_size=8, in_channels=1, num_classes=5)


def _mixed_backbone() -> Backbone:
    """A stem, a basic block with a 1x1 projection shortcut (option B) and a depthwise-separable block."""
    stem = LayerSpec("conv1", "conv", 1, 4, 3, 1, 1, 1, 8, "first")
    conv1 = LayerSpec("b1.conv1", "conv", 4, 8, 3, 2, 1, 1, 8)
    conv2 = LayerSpec("b1.conv2", "conv", 8, 8, 3, 1, 1, 1, 4)
    down = LayerSpec("b1.downsample.0", "conv", 4, 8, 1, 2, 0, 1, 8, "shortcut")
    dw = LayerSpec("b2.dw", "conv", 8, 8, 3, 1, 1, 8, 4)
    pw = LayerSpec("b2.pw", "conv", 8, 6, 1, 1, 0, 1, 4)
    fc = LayerSpec("fc", "linear", 6, 3, role="last")
    blocks = (BlockSpec("stem", "stem", (stem,)), BlockSpec("b1", "basic", (conv1, conv2, down), 0, "conv"),
              BlockSpec("b2", "dw_separable", (dw, pw), 1), BlockSpec("head", "head", (fc,)))
    return Backbone("mixed", 1, 8, 3, blocks)


def _network(bit_list: tuple[int, ...] = BIT_LIST, seed: int = 0, backbone: Backbone | None = None,
             **options: object) -> OnionNetwork:
    torch.manual_seed(seed)
    return OnionNetwork(backbone or _resnet8(), bit_list, **options)  # type: ignore[arg-type]


def _batch(n: int = 8, channels: int = 1, classes: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, channels, 8, 8, generator=generator),
            torch.randint(0, classes, (n,), generator=generator))


def _warm_statistics(net: OnionNetwork, x: torch.Tensor) -> None:
    """Non-trivial running statistics, so eval-mode checks do not run on BN's initial (0, 1)."""
    with torch.no_grad():
        net.train()(x)


def test_forward_returns_every_precisions_logits_in_one_pass() -> None:
    net = _network()
    x, _ = _batch(6)
    assert net(x).shape == (4, 6, 5)
    assert net(x, precisions=2).shape == (2, 6, 5)
    for bad in (0, 5):
        with pytest.raises(ValueError, match="precisions"):
            net(x, precisions=bad)
    assert net.num_precisions == 4 and net.mode == "grad_scale" and net.psbn


@pytest.mark.parametrize(("psbn", "classifier"), VARIANTS)
def test_running_only_the_lowest_paths_is_bit_identical_to_the_full_forward(psbn: bool, classifier: str) -> None:
    net = _network(psbn=psbn, classifier=classifier)
    x, _ = _batch()
    _warm_statistics(net, x)
    net.eval()
    full = net(x)
    for p in range(1, 4):
        assert torch.equal(net(x, precisions=p), full[:p])
    train_full, train_short = copy.deepcopy(net).train(), copy.deepcopy(net).train()
    assert torch.equal(train_short(x, precisions=2), train_full(x)[:2])  # batch statistics too


@pytest.mark.parametrize(("psbn", "classifier"), VARIANTS)
def test_lower_outputs_are_bit_identical_without_the_higher_slices(psbn: bool, classifier: str) -> None:
    # P1: removing slices 3 and 4 (a (2, 4) network with the same lower state) changes nothing below them
    full = _network(psbn=psbn, classifier=classifier)
    x, _ = _batch()
    _warm_statistics(full, x)
    short = OnionNetwork(_resnet8(), (2, 4), psbn=psbn, classifier=classifier)  # type: ignore[arg-type]
    lower_state = short.state_dict()
    assert set(lower_state) < set(full.state_dict())
    short.load_state_dict({key: value for key, value in full.state_dict().items() if key in lower_state})
    for training in (False, True):
        full.train(training)
        short.train(training)
        assert torch.equal(short(x), full(x)[:2])


@pytest.mark.parametrize(("psbn", "classifier"), VARIANTS)
def test_lower_outputs_are_bit_identical_whatever_the_higher_slices_hold(psbn: bool, classifier: str) -> None:
    # P1: overwrite every parameter and statistic that paths 2 and 3 own; paths 0 and 1 do not move by one bit
    net = _network(psbn=psbn, classifier=classifier)
    x, _ = _batch()
    _warm_statistics(net, x)
    net.eval()
    before = net(x)
    with torch.no_grad():
        for p in (2, 3):
            for param in net.path_parameters(p):
                param.copy_(torch.rand_like(param) + 0.1)
            for norm in net.path_norms(p):
                norm.running_mean.normal_()  # type: ignore[operator]
                norm.running_var.uniform_(0.5, 2.0)  # type: ignore[operator]
    after = net(x)
    assert torch.equal(after[:2], before[:2])
    assert not torch.equal(after[2], before[2]) and not torch.equal(after[3], before[3])


@pytest.mark.parametrize(("psbn", "classifier"), VARIANTS)
def test_path_parameters_partition_the_parameters(psbn: bool, classifier: str) -> None:
    net = _network(psbn=psbn, classifier=classifier)
    owned = [id(param) for p in range(4) for param in net.path_parameters(p)]
    assert len(owned) == len(set(owned))
    assert set(owned) == {id(param) for param in net.parameters()}
    norms = [id(norm) for p in range(4) for norm in net.path_norms(p)]
    assert len(norms) == len(set(norms)) == sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_the_training_modes_share_one_forward() -> None:
    net = _network()
    x, _ = _batch()
    outputs = []
    for mode in ("joint", "separate", "grad_scale"):
        net.mode = mode  # type: ignore[assignment]
        outputs.append(net.eval()(x))
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[0], outputs[2])
    with pytest.raises(ValueError, match="training mode"):
        net.mode = "self_distill"  # type: ignore[assignment]


def test_a_lower_loss_never_reaches_a_higher_path() -> None:
    net = _network()
    x, y = _batch()
    onion_loss(net(x, precisions=1), y).backward()
    assert all(param.grad is None for p in (1, 2, 3) for param in net.path_parameters(p))
    assert any(param.grad is not None and param.grad.any() for param in net.path_parameters(0))


def _sgd_steps(net: OnionNetwork, x: torch.Tensor, y: torch.Tensor, steps: int) -> list[float]:
    params = [param for param in net.parameters() if param.requires_grad]
    optimiser = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    losses = []
    net.train()
    for _ in range(steps):
        loss = onion_loss(net(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(("psbn", "mode"), [(True, "grad_scale"), (False, "joint"), (True, "separate")])
def test_a_few_sgd_steps_reduce_the_eq5_loss(psbn: bool, mode: str) -> None:
    net = _network(psbn=psbn, mode=mode)
    x, y = _batch(32)
    with torch.no_grad():
        before = per_precision_losses(net.train()(x), y)
    losses = _sgd_steps(net, x, y, 12)
    with torch.no_grad():
        after = per_precision_losses(net.train()(x), y)
    assert losses[-1] < 0.7 * losses[0]
    assert (after < before).all()  # every precision learns


def test_extension_trains_only_the_new_precision() -> None:
    # DPOQ Sec. 3: add a precision to a trained network, train the new slice with the rest fixed
    old = _network((2, 4), seed=3)
    x, y = _batch(16)
    _sgd_steps(old, x, y, 2)
    new = _network((2, 4, 8), seed=4)
    new.load_state_dict({**new.state_dict(), **old.state_dict()})
    new.freeze_below(2)
    frozen = {name: value.clone() for name, value in new.state_dict().items() if name in old.state_dict()}
    new_path = [param.detach().clone() for param in new.path_parameters(2)]
    _sgd_steps(new, x, y, 3)
    assert all(torch.equal(new.state_dict()[name], value) for name, value in frozen.items())  # statistics too
    assert any(not torch.equal(param, start) for param, start in zip(new.path_parameters(2), new_path, strict=True))
    assert torch.equal(new.eval()(x)[:2], old.eval()(x))
    new.freeze_below(0)
    assert all(param.requires_grad for param in new.parameters())
    assert all(module.training for module in new.train().modules())


@pytest.mark.parametrize("classifier", ["per_path", "onion"])
def test_slice_modules_price_each_path_at_macs_times_its_bits(classifier: str) -> None:
    # P2's hook side: what path p adds costs MACs x b_p x A per conv and its classifier, so paths 0..p together
    # cost MACs x B_p x A per conv (a_bits 4, the image at 8 bits, the per-path classifier at 8-bit weights)
    backbone = _resnet8()
    net = _network(backbone=backbone, a_bits=4, input_bits=8, classifier=classifier)
    bitops: dict[int, int] = {}
    handles = []
    for p in range(4):
        for module in net.slice_modules(p).values():
            def record(mod: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor, p: int = p) -> None:
                if isinstance(mod, nn.Conv2d):
                    macs = output[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] ** 2
                else:
                    macs = mod.in_features * mod.out_features  # type: ignore[operator]
                bitops[p] = bitops.get(p, 0) + macs * mod.w_bits * mod.a_bits  # type: ignore[operator]

            handles.append(module.register_forward_hook(record))
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, 8, 8))
    for handle in handles:
        handle.remove()
    convs = [layer for layer in backbone.layers if layer.kind == "conv"]
    fc = backbone.layer("fc")
    for p, bits in enumerate(slice_bits(BIT_LIST)):
        conv_bitops = sum(layer.macs * bits * (8 if layer.role == "first" else 4) for layer in convs)
        fc_bits = 8 if classifier == "per_path" else bits
        assert bitops[p] == conv_bitops + fc.macs * fc_bits * 4
    cumulative = sum(bitops[q] - fc.macs * (8 if classifier == "per_path" else slice_bits(BIT_LIST)[q]) * 4
                     for q in range(4))
    assert cumulative == sum(layer.macs * 16 * (8 if layer.role == "first" else 4) for layer in convs)


@pytest.mark.parametrize("psbn", [True, False])
def test_batch_norm_recalibration_and_module_listing_see_every_path(psbn: bool) -> None:
    from trainers.evaluation.bn_recalibration import recalibrate_batch_norm

    net = _network(psbn=psbn)
    x, _ = _batch(16)
    norms = net.active_batch_norms()
    assert len(norms) == 4 * 7 and len({id(norm) for norm in norms}) == len(norms)  # 7 convs, 4 paths
    assert recalibrate_batch_norm(net, x, batch_size=8) == len(norms)
    assert all(norm.num_batches_tracked.item() == 2 for norm in norms) and not net.training  # 16 / 8 batches
    modules = net.quantized_modules()
    assert len(modules) == 4 * 7 + 4 and "layer1.0.conv1.slice3" in modules and "fc.path3" in modules
    assert net.num_exits == 4


def test_per_path_classifiers_are_8_bit_fcs_at_the_networks_activation_bits() -> None:
    net = _network(a_bits=2)
    fcs = net.head.fcs  # type: ignore[union-attr]
    assert len(fcs) == 4 and all(isinstance(fc, QuantLinear) for fc in fcs)
    assert {(fc.w_bits, fc.a_bits) for fc in fcs} == {(8, 2)}


@pytest.mark.parametrize("psbn", [True, False])
def test_projection_shortcuts_and_depthwise_blocks_keep_p1(psbn: bool) -> None:
    backbone = _mixed_backbone()
    full = _network(backbone=backbone, psbn=psbn)
    x, _ = _batch(4)
    assert full(x).shape == (4, 4, 3)
    short = OnionNetwork(backbone, (2, 4, 8), psbn=psbn)
    short.load_state_dict({key: value for key, value in full.state_dict().items() if key in short.state_dict()})
    full.eval(), short.eval()
    assert torch.equal(short(x), full(x)[:3])


@pytest.mark.parametrize(("options", "match"), [
    ({"classifier": "shared"}, "classifier"), ({"bit_list": (4, 2)}, "bit list"), ({"a_bits": 0}, "bit-width"),
    ({"mode": "distill"}, "training mode"), ({"bit_list": (2, 2)}, "bit list")])
def test_bad_options_are_refused(options: dict[str, object], match: str) -> None:
    bit_list = options.pop("bit_list", BIT_LIST)
    with pytest.raises(ValueError, match=match):
        OnionNetwork(_resnet8(), bit_list, **options)  # type: ignore[arg-type]
