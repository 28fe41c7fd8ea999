"""REINFORCE of USDN Eq. 5-6: the gradient by hand, baseline, Adam step, learning and failures."""

from __future__ import annotations

import bisect
import math
import random

import numpy as np
import pytest

from nas.controllers import Controller, ReinforceController, TrialResult, reinforce_gradient
from nas.controllers.adam import Adam
from nas.controllers.policy_gradient import entropy, entropy_gradient, softmax
from spaces import Config, load_space

SPACE = load_space("tiny-digits")


def top_fraction(config: Config) -> float:
    indices = SPACE.encode(config)
    return sum(i == d.size - 1 for i, d in zip(indices, SPACE.dimensions, strict=True)) / len(indices)


def test_gradient_matches_hand_computation_uniform_policy() -> None:
    # One dimension, two choices, p = (1/2, 1/2): grad log p(a) = onehot(a) - p.
    grads = reinforce_gradient([np.zeros(2)], actions=[[0], [1], [0]], advantages=[1.0, -0.5, 2.0])
    # (1/3) [1*(+.5) + (-.5)*(-.5) + 2*(+.5), 1*(-.5) + (-.5)*(+.5) + 2*(-.5)] = (1/3) [1.75, -1.75]
    np.testing.assert_allclose(grads[0], [1.75 / 3, -1.75 / 3])


def test_gradient_matches_hand_computation_skewed_policy() -> None:
    # p = softmax(ln 3, 0) = (3/4, 1/4); choosing index 1 with advantage 2: 2 * ((0, 1) - (3/4, 1/4)).
    grads = reinforce_gradient([np.array([math.log(3.0), 0.0])], actions=[[1]], advantages=[2.0])
    np.testing.assert_allclose(grads[0], [-1.5, 1.5])


def test_gradient_matches_finite_differences_of_log_likelihood() -> None:
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=4), rng.normal(size=2)]
    actions, advantages = [[3, 0], [1, 1]], [0.7, -0.3]

    def objective(zs: list[np.ndarray]) -> float:
        return sum(a * sum(math.log(softmax(z)[i]) for z, i in zip(zs, act, strict=True))
                   for act, a in zip(actions, advantages, strict=True)) / len(actions) + 0.1 * sum(map(entropy, zs))

    grads = reinforce_gradient(logits, actions, advantages, entropy_weight=0.1)
    for d, z in enumerate(logits):
        for k in range(len(z)):
            plus = [x.copy() for x in logits]
            minus = [x.copy() for x in logits]
            plus[d][k] += 1e-6
            minus[d][k] -= 1e-6
            assert grads[d][k] == pytest.approx((objective(plus) - objective(minus)) / 2e-6, abs=1e-6)


def test_entropy_gradient_vanishes_at_uniform() -> None:
    np.testing.assert_allclose(entropy_gradient(np.zeros(3)), 0.0, atol=1e-12)


def test_baseline_is_moving_average_of_previous_rewards() -> None:
    controller = ReinforceController(SPACE, seed=0, baseline_decay=0.9, samples_per_update=100)
    for reward in (1.0, 2.0, 3.0):
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.complete(reward))
    # b: 1 (initialised) -> 0.9*1 + 0.1*2 = 1.1 -> 0.9*1.1 + 0.1*3 = 1.29; A_i = R_i - b_{i-1}, A_1 = 0.
    assert controller.baseline == pytest.approx(1.29)
    batch = controller.state_dict()["internal"]["batch"]
    assert [b["advantage"] for b in batch] == pytest.approx([0.0, 1.0, 1.9])


def test_first_update_is_one_adam_step_after_p_rewards() -> None:
    controller = ReinforceController(SPACE, seed=1, lr=0.1, samples_per_update=3, replay_top=0)
    trials = [controller.ask() for _ in range(3)]
    rewards = [0.2, 0.8, 0.5]
    for trial, reward in zip(trials[:2], rewards[:2], strict=True):
        controller.tell(trial.trial_id, TrialResult.complete(reward))
        assert controller.n_updates == 0
        assert all(np.all(z == 0) for z in controller.logits)
    controller.tell(trials[2].trial_id, TrialResult.complete(rewards[2]))
    assert controller.n_updates == 1
    expected = reinforce_gradient([np.zeros(d.size) for d in SPACE.dimensions],
                                  [SPACE.encode(t.config) for t in trials], [0.0, 0.6, 0.5 - 0.26])
    for z, g in zip(controller.logits, expected, strict=True):
        # Adam's first bias-corrected step moves each logit by lr * sign(grad).
        np.testing.assert_allclose(z, 0.1 * np.sign(g) * (np.abs(g) > 1e-12), atol=1e-6)


def test_replay_adds_the_best_told_results_to_each_update() -> None:
    """With ``replay_top = 2`` the first update's sum holds the 3 new samples and the 2 best told (again), each
    with advantage R - b against the baseline after the third reward."""
    controller = ReinforceController(SPACE, seed=1, lr=0.1, samples_per_update=3, replay_top=2)
    trials = [controller.ask() for _ in range(3)]
    for trial, reward in zip(trials, [0.2, 0.8, 0.5], strict=True):
        controller.tell(trial.trial_id, TrialResult.complete(reward))
    assert controller.n_updates == 1
    baseline = 0.9 * (0.9 * 0.2 + 0.1 * 0.8) + 0.1 * 0.5
    actions = [SPACE.encode(t.config) for t in (*trials, trials[1], trials[2])]
    expected = reinforce_gradient([np.zeros(d.size) for d in SPACE.dimensions], actions,
                                  [0.0, 0.6, 0.5 - 0.26, 0.8 - baseline, 0.5 - baseline])
    for z, g in zip(controller.logits, expected, strict=True):
        np.testing.assert_allclose(z, 0.1 * np.sign(g) * (np.abs(g) > 1e-12), atol=1e-6)


def test_a_draw_of_a_told_config_is_learned_from_not_asked_again() -> None:
    """``reuse_told``: once a fast policy concentrates, its draws repeat told configs; those enter Eq. 6 with their
    told reward instead of being asked, so an ask repeats a told config only after ``reuse_told`` such draws."""
    controller = ReinforceController(SPACE, seed=0, lr=5.0, samples_per_update=1, reuse_told=50)
    seen: set[tuple[int, ...]] = set()
    for _ in range(60):
        before = controller.n_reused
        trial = controller.ask()
        key = tuple(SPACE.encode(trial.config))
        assert key not in seen or controller.n_reused - before == 50
        seen.add(key)
        controller.tell(trial.trial_id, TrialResult.complete(top_fraction(trial.config)))
    assert controller.n_reused > 0
    assert controller.n_updates == 60 + controller.n_reused  # P = 1: one update per told or reused reward


def test_the_compiled_policy_is_softmax_per_dimension() -> None:
    """The kernel's probabilities and CDFs are :func:`softmax` and ``cumsum`` of each dimension's logits (to
    rounding: libm's ``exp`` and a sequential sum against numpy's), for sizes 1, 2, 4 and 20 with logits moved."""
    space = load_space("benchmarks/space_files/thresholds-only.yaml")
    for s in (SPACE, space):
        controller = ReinforceController(s, seed=0, lr=0.7, samples_per_update=1)
        rng = np.random.default_rng(1)
        for _ in range(30):
            trial = controller.ask()
            controller.tell(trial.trial_id, TrialResult.complete(float(rng.normal())))
        assert controller.n_updates > 20 and any(np.ptp(z) > 1 for z in controller.logits)
        for z, start in zip(controller.logits, controller._offsets, strict=True):
            probs, cdf = controller._probs[start:start + z.size], controller._cdf[start:start + z.size]
            np.testing.assert_allclose(probs, softmax(z), rtol=1e-13, atol=1e-300)
            np.testing.assert_allclose(cdf, np.cumsum(softmax(z)), rtol=1e-13)


def test_once_every_config_is_told_an_ask_reuses_nothing() -> None:
    """In a space whose every config has been told, no draw can be new: an ask then spends no reuse draws."""
    space = load_space("benchmarks/space_files/thresholds-only.yaml")
    controller = ReinforceController(space, seed=0, lr=1e-12, reuse_told=20)  # a uniform policy covers the space
    told: set[tuple[int, ...]] = set()
    for _ in range(20 * space.size):
        if len(told) == space.size:
            break
        trial = controller.ask()
        told.add(tuple(space.encode(trial.config)))
        controller.tell(trial.trial_id, TrialResult.complete(random.Random(len(told)).random()))
    assert len(told) == space.size
    before = controller.n_reused
    for _ in range(10):
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.complete(0.5))
    assert controller.n_reused == before


def test_probabilities_sum_to_one_and_most_likely_is_argmax() -> None:
    controller = ReinforceController(SPACE, seed=0, samples_per_update=4)
    for _ in range(20):
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.complete(top_fraction(trial.config)))
    probabilities = controller.probabilities()
    assert list(probabilities) == list(SPACE.labels)
    for label, p in probabilities.items():
        assert len(p) == SPACE.dimension(label).size
        assert sum(p) == pytest.approx(1.0)
    expected = {label: SPACE.dimension(label).decode(int(np.argmax(p))) for label, p in probabilities.items()}
    assert controller.most_likely() == expected


def test_policy_concentrates_on_best_arm() -> None:
    controller = ReinforceController(SPACE, seed=0)
    for _ in range(400):
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.complete(top_fraction(trial.config)))
    assert top_fraction(controller.most_likely()) == 1.0
    for label, p in controller.probabilities().items():
        assert p[-1] > 0.6, label


def test_failures_do_not_move_the_policy() -> None:
    controller = ReinforceController(SPACE, seed=0, samples_per_update=2)
    for _ in range(5):
        trial = controller.ask()
        controller.tell(trial.trial_id, TrialResult.failed("diverged"))
    assert all(np.all(z == 0) for z in controller.logits)
    assert controller.baseline is None and controller.n_updates == 0
    trials = [controller.ask() for _ in range(3)]
    controller.tell(trials[0].trial_id, TrialResult.complete(0.4))
    controller.tell(trials[1].trial_id, TrialResult.failed())
    assert controller.n_updates == 0  # the failure does not count towards the batch of P = 2
    controller.tell(trials[2].trial_id, TrialResult.complete(0.9))
    assert controller.n_updates == 1


def test_sample_config_registers_nothing() -> None:
    controller = ReinforceController(SPACE, seed=7)
    twin = ReinforceController(SPACE, seed=7)
    for rng in (random.Random(0), np.random.default_rng(0)):
        config = controller.sample_config(rng)
        assert SPACE.validate(config) == config
    assert controller.n_asked == 0
    assert controller.ask().config == twin.ask().config


@pytest.mark.parametrize("options", [{"baseline_decay": 1.0}, {"samples_per_update": 0}, {"lr": 0.0},
                                     {"entropy_weight": -1.0}])
def test_bad_options_raise(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReinforceController(SPACE, **options)  # type: ignore[arg-type]


class _ReferenceReinforce(Controller):
    """REINFORCE as first written, in numpy one dimension at a time: ``softmax`` / ``cumsum`` / ``searchsorted`` per
    dimension with one ``rng.random()`` each, the update through :func:`reinforce_gradient` and :meth:`Adam.step`,
    told configs in a dict, the elite in a sorted list. The compiled controller must do what this does."""

    name = "reinforce"

    def __init__(self, space, seed=0, *, lr=0.2, baseline_decay=0.9, entropy_weight=0.0,  # type: ignore[no-untyped-def]
                 samples_per_update=4, replay_top=4, reuse_told=20) -> None:
        options = {k: v for k, v in (("replay_top", replay_top), ("reuse_told", reuse_told)) if v}
        super().__init__(space, seed, lr=lr, baseline_decay=baseline_decay, entropy_weight=entropy_weight,
                         samples_per_update=samples_per_update, **options)
        self.decay, self.entropy_weight, self.p, self.top, self.reuse = (baseline_decay, entropy_weight,
                                                                         samples_per_update, replay_top, reuse_told)
        self.logits = [np.zeros(d.size) for d in space.dimensions]
        self.adam = Adam([z.shape for z in self.logits], lr=lr)
        self.rng = np.random.default_rng(seed)
        self.baseline: float | None = None
        self.batch: list[tuple[list[int], float]] = []
        self.elite: list[tuple[float, int, list[int]]] = []
        self.told: dict[tuple[int, ...], float] = {}
        self.n_complete = self.n_updates = self.n_reused = 0

    def draw(self) -> list[int]:
        cdfs = [np.cumsum(softmax(z)) for z in self.logits]
        return [min(int(np.searchsorted(cdf, self.rng.random(), side="right")), len(cdf) - 1) for cdf in cdfs]

    def learn(self, indices: list[int], reward: float) -> None:
        advantage = 0.0 if self.baseline is None else reward - self.baseline
        self.baseline = reward if self.baseline is None else self.decay * self.baseline + (1 - self.decay) * reward
        self.batch.append((indices, advantage))
        if len(self.batch) >= self.p:
            self.batch += [(list(e), -negative - self.baseline) for negative, _, e in self.elite]
            grads = reinforce_gradient(self.logits, [a for a, _ in self.batch], [adv for _, adv in self.batch],
                                       self.entropy_weight)
            self.adam.step(self.logits, grads, maximize=True)
            self.batch, self.n_updates = [], self.n_updates + 1

    def _propose(self, trial_id: int) -> Config:
        indices = self.draw()
        for _ in range(self.reuse if len(self.told) < self.space.size else 0):
            known = self.told.get(tuple(indices))
            if known is None:
                break
            self.learn(indices, known)
            self.n_reused += 1
            indices = self.draw()
        return self.space.decode(indices)

    def _observe(self, trial, result) -> None:  # type: ignore[no-untyped-def]
        if result.is_complete and result.reward is not None:
            indices = self.space.encode(trial.config)
            if self.top:
                bisect.insort(self.elite, (-result.reward, self.n_complete, indices))
                del self.elite[self.top:]
            self.n_complete += 1
            self.told.setdefault(tuple(indices), result.reward)
            self.learn(indices, result.reward)


@pytest.mark.parametrize(("preset", "options"), [("tiny-digits-thresholds", {}),
                                                 ("usdn-resnet20-cifar10", {"entropy_weight": 0.01,
                                                                            "samples_per_update": 3}),
                                                 ("benchmarks/space_files/thresholds-only.yaml", {}),
                                                 ("benchmarks/space_files/thresholds-only.yaml",
                                                  {"entropy_weight": 0.01, "replay_top": 0})])
def test_the_compiled_controller_is_the_per_dimension_numpy_one(preset: str, options: dict[str, float]) -> None:
    """The compiled draws, updates and told-config lookups (:mod:`nas.controllers.reinforce_kernel`) do what the
    per-dimension numpy code does: the same configs on every ask, the same counts of updates and reused draws, the
    same baseline, logits equal to rounding (libm against numpy ``exp``), and the generator's state exactly that of
    one ``random()`` per dimension and draw (uniforms are drawn in blocks; a state saved part-way through one is
    the stream's), through failures, several trials out at once, reuse of told configs (the thresholds-only space
    has 400 configs and one-choice dimensions) and a resume half-way."""
    space = load_space(preset)
    fast, reference = ReinforceController(space, seed=3, **options), _ReferenceReinforce(space, seed=3, **options)
    rng = np.random.default_rng(0)
    out: list[int] = []
    for step in range(400):
        a, b = fast.ask(), reference.ask()
        assert a.config == b.config, step
        out.append(a.trial_id)
        if len(out) > 4 or step % 5 == 0:
            trial_id = out.pop(0)
            result = TrialResult.failed() if step % 11 == 0 else TrialResult.complete(float(rng.random()))
            fast.tell(trial_id, result)
            reference.tell(trial_id, result)
        if step in (200, 399):
            state = fast.state_dict()
            assert state["internal"]["rng"] == reference.rng.bit_generator.state
            assert state["history"] == reference.state_dict()["history"]
            assert state["internal"]["baseline"] == reference.baseline
            assert state["internal"]["n_updates"] == reference.n_updates
            assert state["internal"].get("n_reused", 0) == reference.n_reused
            assert state["internal"]["batch"] == [{"actions": a, "advantage": adv} for a, adv in reference.batch]
            for z, y in zip(state["internal"]["logits"], reference.logits, strict=True):
                np.testing.assert_allclose(z, y, rtol=1e-9, atol=1e-12)
            resumed = ReinforceController(space, seed=3, **options)
            resumed.load_state_dict(state)
            assert resumed.state_dict() == state
            fast = resumed
    assert fast.n_updates > 20 and (fast.n_reused > 0) == bool(fast.reuse_told)


def test_a_search_saved_under_the_first_defaults_resumes_as_it_ran() -> None:
    """A state saved by REINFORCE as first written (lr 0.1, P = 8, no replay or reuse: its state records neither)
    rebuilds with those options, not today's defaults, and continues exactly as the original would."""
    from nas.controllers.registry import create_for_state

    first = ReinforceController(SPACE, seed=3, lr=0.1, samples_per_update=8, replay_top=0, reuse_told=0)
    rng = random.Random(0)
    for _ in range(11):
        trial = first.ask()
        first.tell(trial.trial_id, TrialResult(reward=rng.random()))
    state = first.state_dict()
    assert state["options"] == {"lr": 0.1, "baseline_decay": 0.9, "entropy_weight": 0.0, "samples_per_update": 8}
    with pytest.raises(ValueError, match="options"):
        ReinforceController(SPACE, seed=3).load_state_dict(state)  # today's defaults differ
    resumed = create_for_state("reinforce", SPACE, 3, {}, state)
    for _ in range(9):
        a, b = first.ask(), resumed.ask()
        assert a.config == b.config
        reward = rng.random()
        first.tell(a.trial_id, TrialResult(reward=reward))
        resumed.tell(b.trial_id, TrialResult(reward=reward))
    assert resumed.state_dict() == first.state_dict()


def test_a_load_that_fails_part_way_leaves_the_compiled_state_as_it_was() -> None:
    """A state that fails after the new logits are installed (``n_updates`` not a number) raises and leaves every
    array the kernel reads as it was: the same state and the same next asks as an untouched twin."""
    controller, twin = ReinforceController(SPACE, seed=5), ReinforceController(SPACE, seed=5)
    for step in range(30):
        for c in (controller, twin):
            trial = c.ask()
            c.tell(trial.trial_id, TrialResult.complete(0.1 * (step % 4)))
    other = ReinforceController(SPACE, seed=5, lr=0.2)
    for step in range(7):
        trial = other.ask()
        other.tell(trial.trial_id, TrialResult.complete(1.0 - 0.1 * step))
    broken = other.state_dict()
    broken["internal"]["n_updates"] = "many"
    with pytest.raises(ValueError):
        controller.load_state_dict(broken)
    assert controller.state_dict() == twin.state_dict()
    for _ in range(20):
        a, b = controller.ask(), twin.ask()
        assert a.config == b.config
        controller.tell(a.trial_id, TrialResult.complete(0.5))
        twin.tell(b.trial_id, TrialResult.complete(0.5))
    assert controller.state_dict() == twin.state_dict()
