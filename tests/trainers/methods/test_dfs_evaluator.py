"""DFS's evaluator (issue 16): each trial's step 2 trained from the shared step 1 (seeded: the same values give the
same network), kept for the trials that repeat its values, scored with hard decisions; cp exactly 1/16 for a
network that runs every gated block at 8 bits; step 1 and step 2 as the paper trains them."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import yaml
from torch.utils.data import TensorDataset

from spaces.loader import parse_space, preset_text
from trainers.methods import TrialTraining, method_networks
from trainers.methods.dfs import build_fractional_network, summarize, train_step1, train_step2
from trainers.training import TrainingSchedule


def _space(**changes: object) -> object:
    data = yaml.safe_load(preset_text("dfs-digits"))
    data["backbone"] = {**data["backbone"], "depth": 8, "width": 4}
    data.update(changes)
    return parse_space(data, source="tiny-dfs.yaml")


def _data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.fixture
def one_thread() -> object:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_network_of_one_8_bit_option_has_cp_exactly_one_sixteenth(one_thread: None) -> None:
    space = _space()
    torch.manual_seed(0)
    net = build_fractional_network(space, ("W8A8",))
    x, y = _data()
    net.train()
    with torch.no_grad():
        net(x)  # activation ranges
    s = summarize(net, x, y)
    assert s.cp == 1 / 16 and s.skip_share == 0.0
    assert s.counts == [[len(x)]] * len(net.gated_blocks)
    # the whole network's cp counts the fixed pieces at full precision too
    fixed = sum(v for k, v in net.table.fixed_bops.items() if not k.endswith(".gate"))
    assert s.cp_network == pytest.approx((fixed + net.table.reference_bops() / 16) / net.base_bops())


def test_step1_trains_only_the_gates_towards_full_and_step2_moves_cp_down_to_the_target(one_thread: None) -> None:
    space = _space()
    options = dataclasses.replace(space.options, step1_alpha=1e-2)
    torch.manual_seed(0)
    net = build_fractional_network(space)
    x, y = _data(128)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    base = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("gate.")}
    steps1: list[dict[str, float]] = []
    train_step1(net, batches, TrainingSchedule(epochs=3, lr=0.1, batch_size=32), options,
                on_step=lambda i, m: steps1.append(m))
    after = net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in base.items() if ".act_quant." not in k)  # A frozen
    assert not net.base_frozen  # unfrozen again for step 2
    assert {s["alpha_sign"] for s in steps1} == {-1.0}  # target cp 100 %: always below it
    assert steps1[-1]["cp_batch"] > steps1[0]["cp_batch"]
    steps: list[dict[str, float]] = []
    train_step2(net, batches, TrainingSchedule(epochs=3, lr=0.1, batch_size=32), options,
                (0.1, "skip,W8A8,W16A16,full", repr(1.0), "sign_switching"), on_step=lambda i, m: steps.append(m))
    assert 1.0 in {s["alpha_sign"] for s in steps}  # above the target alpha pushes cp down
    assert steps[-1]["cp_batch"] < steps[0]["cp_batch"]
    epochs = train_step2(net, batches, TrainingSchedule(epochs=2, lr=0.1, batch_size=32), options,
                         (0.1, "skip,W8A8,W16A16,full", repr(1.0), "sign_switching")).epochs
    assert len(epochs) == 2 and all(0 <= e["cp"] <= 1 and "loss" in e for e in epochs)  # per-epoch actual cp


def test_each_trial_trains_its_step2_once_and_repeats_are_cached(one_thread: None) -> None:
    space = _space(search={"target_compute": [0.1, 0.4]})
    torch.manual_seed(0)
    step1 = build_fractional_network(space)
    x, y = _data(48, seed=1)
    train = TensorDataset(*_data(64))
    training = TrialTraining(train, TrainingSchedule(epochs=1, lr=0.1, batch_size=32), seed=3)
    evaluator = method_networks("dfs").evaluator(space, copy.deepcopy(step1), x, y, trial_training=training)
    first = evaluator.evaluate({"budget.target_compute": 0.1})
    assert not first.cached_forward and evaluator.trained_for_trials == 1
    again = evaluator.evaluate({"budget.target_compute": 0.1})
    assert again.cached_forward and evaluator.trained_for_trials == 1 and again == first.__class__(
        **{**first.__dict__, "cached_forward": True})
    other = evaluator.evaluate({"budget.target_compute": 0.4})
    assert evaluator.trained_for_trials == 2 and other.target_cp == 0.4 and first.target_cp == 0.1
    metrics = first.metrics()
    assert {"cp", "cp_network", "target_cp", "skip_share", "gate_bops"} <= set(metrics)
    assert metrics["exit_rate_0"] == 1.0 and metrics["accuracy_exit0"] == first.ee_accuracy
    # another evaluator with the same step 1 and seed trains the same step 2 (2 workers agree)
    twin = method_networks("dfs").evaluator(space, copy.deepcopy(step1), x, y, trial_training=training)
    assert twin.evaluate({"budget.target_compute": 0.1}).metrics() == first.metrics()


def test_without_trial_training_a_dfs_trial_cannot_be_scored() -> None:
    space = _space()
    x, y = _data(8)
    evaluator = method_networks("dfs").evaluator(space, build_fractional_network(space), x, y)
    with pytest.raises(ValueError, match="trains its step 2"):
        evaluator.evaluate({"budget.target_compute": 0.2})
