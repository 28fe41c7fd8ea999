"""Controllers as Ray actors: ask/tell/state over Ray, the controller itself unchanged."""

from __future__ import annotations

from typing import Any

from nas.controllers import Controller, Trial, TrialResult, create_controller
from spaces import Config, SearchSpace


class ControllerHost:
    """Hosts one controller; :func:`controller_actor` makes it a (restartable) Ray actor."""

    def __init__(self, name: str, space: SearchSpace, seed: int, options: dict[str, Any] | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.controller: Controller = create_controller(name, space, seed=seed, **(options or {}))
        if state is not None:
            self.controller.load_state_dict(state)

    def ask(self) -> Trial:
        return self.controller.ask()

    def tell(self, trial_id: int, result: TrialResult) -> None:
        self.controller.tell(trial_id, result)

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict()

    def best(self) -> tuple[Config, float] | None:
        return self.controller.best()

    def pending(self) -> list[int]:
        return list(self.controller.pending)

    def sample_config(self, seed: int) -> Config:
        """A path from the current policy (REINFORCE, for interleaved supernet training)."""
        import random

        sampler = getattr(self.controller, "sample_config", None)
        if sampler is None:
            raise TypeError(f"controller {self.controller.name!r} has no policy to sample paths from")
        return sampler(random.Random(seed))

    def policy(self) -> dict[str, list[float]] | None:
        probabilities = getattr(self.controller, "probabilities", None)
        return probabilities() if probabilities is not None else None

    def most_likely(self) -> Config | None:
        method = getattr(self.controller, "most_likely", None)
        return method() if method is not None else None


def controller_actor(name: str, space: SearchSpace, seed: int, options: dict[str, Any] | None = None,
                     state: dict[str, Any] | None = None) -> Any:
    import ray

    return ray.remote(num_cpus=0)(ControllerHost).remote(name, space, seed, options, state)
