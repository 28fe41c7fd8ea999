"""USDN's interleaved mode (Sec. 4.2): a Ray actor that holds the supernet, its optimiser and the
training data, and runs weight steps on paths sampled from the controller's current policy between
REINFORCE architecture steps."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from nas.runtime.data_spec import DataSpec
from spaces import Config, SearchSpace
from trainers.training import TrainingSchedule


def sample_from_policy(space: SearchSpace, probabilities: Mapping[str, Sequence[float]], rng: random.Random) -> Config:
    """A path with every gate drawn from ``softmax(theta)`` / ``softmax(gamma)`` (Eq. 2-3)."""
    config: Config = {}
    for dim in space.dimensions:
        probs = probabilities[dim.label]
        config[dim.label] = dim.choices[rng.choices(range(dim.size), weights=probs)[0]]
    return config


class SupernetTrainer:
    """Weight steps of the interleaved search: ``train(policy, steps)`` samples one path per batch from
    ``policy`` (uniform when ``None``) and updates that path with the multi-exit loss (Eq. 4).

    Learning rate: cosine annealing from ``schedule.lr`` to 0 over ``total_steps`` weight steps (the search's
    rounds x weight steps), a warm restart after the uniform-sampling warm-up, so the last architecture steps
    score weights that have settled. USDN gives no schedule for this phase; this one is our choice.
    """

    def __init__(self, space: SearchSpace, data: DataSpec, state: list[Any], schedule: TrainingSchedule,
                 seed: int = 0, num_threads: int = 1, total_steps: int | None = None) -> None:
        import ray

        from trainers.data import make_loader
        from trainers.networks import build_supernet
        from trainers.training import default_device, prepare_worker_process

        prepare_worker_process(num_threads)
        torch.manual_seed(seed)
        self.space = space
        self.device = default_device()
        self.net = build_supernet(space).to(self.device)
        self.net.load_state_dict(ray.get(state[0]))
        self.loader = make_loader(data.load().train, schedule.batch_size, shuffle=True, seed=seed)
        self.optimizer = schedule.optimizer(self.net)
        self.scheduler = schedule.scheduler_for_steps(self.optimizer, total_steps) if total_steps else None
        self.grad_clip = schedule.grad_clip
        self.rng = random.Random(seed)
        self.steps = 0
        self.rounds = 0
        self._batches: Iterator[Any] = iter(())

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            return next(self._batches)

    def train(self, policy: Mapping[str, Sequence[float]] | None, steps: int) -> dict[str, Any]:
        from trainers.training import multi_exit_loss

        self.net.train()
        total = 0.0
        for _ in range(steps):
            config = sample_from_policy(self.space, policy, self.rng) if policy else self.space.sample(self.rng)
            self.net.set_config(config)
            x, y = self._next_batch()
            loss = multi_exit_loss(self.net(x.to(self.device)), y.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler.last_epoch < self.scheduler.T_max:
                self.scheduler.step()
            total += loss.item()
        self.steps += steps
        self.rounds += 1
        return {"loss": total / max(1, steps), "steps": self.steps, "rounds": self.rounds,
                "lr": float(self.optimizer.param_groups[0]["lr"])}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.net.state_dict().items()}


def supernet_trainer_actor(space: SearchSpace, data: DataSpec, state_ref: Any, schedule: TrainingSchedule,
                           seed: int, num_cpus: float = 1, total_steps: int | None = None) -> Any:
    """The trainer reserves no CPU: it only works while the evaluators are idle (between architecture steps),
    so it cannot deadlock against a pool that holds every core; it still uses ``num_cpus`` threads."""
    import ray

    actor = ray.remote(num_cpus=0)(SupernetTrainer)
    return actor.remote(space, data, [state_ref], schedule, seed, max(1, int(num_cpus)), total_steps)
