"""Controllers as Ray actors: ask/tell/state over Ray, the controller itself unchanged.

One :class:`ControllerHost` actor serves every search of a job in turn (:meth:`ControllerHost.start` installs
the next search's controller). The actor's process start and the controller imports (Optuna included, about
1 s of CPU) then happen once, while the evaluator pool starts, instead of on each search's critical path,
where on a small machine they would also take CPU from the evaluators.
"""

from __future__ import annotations

from typing import Any

from nas.controllers import Controller, Trial, TrialResult, controller_class
from nas.controllers.registry import create_for_state
from nas.runtime.long_lived_objects import freeze_long_lived_objects
from spaces import Config, SearchSpace

PackedResult = list[Any]
"""``[trial_id, state, reward, metrics, reason]`` of a :class:`TrialResult`: what the search loop sends to be told.

What crosses Ray in a call of many trials is lists, not tuples or objects: Ray's msgpack serialiser packs lists,
dicts, strings and numbers itself but hands every tuple (strict types) and object to pickle as an extension,
which for 64 results costs 70 microseconds against 13 as lists (and a dataclass per result costs more still)."""


def pack_result(trial_id: int, result: TrialResult) -> PackedResult:
    """``result`` as a list of plain values (:data:`PackedResult`)."""
    return [trial_id, result.state, result.reward, result.metrics, result.reason]


class ControllerHost:
    """Hosts the controller of the current search; :func:`controller_host` makes it a Ray actor.

    Calls from one caller run in the order they were made (Ray's actor ordering), so a ``tell`` sent
    before an ``ask`` is always seen by it.
    """

    def __init__(self) -> None:
        self._controller: Controller | None = None

    def ready(self, names: tuple[str, ...] | list[str] = ()) -> bool:
        """Returns once the actor is up (its imports done) and the controllers ``names`` are prepared
        (:meth:`Controller.prepare`: REINFORCE loads its compiled kernels)."""
        for name in dict.fromkeys(names):
            controller_class(name).prepare()
        freeze_long_lived_objects()  # its imports and kernels; the controllers of later searches stay collectable
        return True

    def start(self, name: str, space: SearchSpace, seed: int, options: dict[str, Any] | None = None,
              state: dict[str, Any] | None = None, storage: dict[str, str] | None = None) -> str:
        """Install a fresh controller (restored from ``state`` when given), replacing the previous one.
        ``storage`` (``{"url": ..., "study_name": ...}``) goes to controllers that keep a stored study
        (:attr:`Controller.uses_study_storage`, Optuna's)."""
        self.close()
        cls = controller_class(name)
        extra = ({"storage": storage["url"], "study_name": storage["study_name"]}
                 if storage and cls.uses_study_storage else {})
        controller = create_for_state(name, space, seed, options, state, **extra)
        self._controller = controller
        return controller.name

    def close(self) -> None:
        """Let the current controller finish what it writes (a stored study), if it has a ``close``."""
        close = getattr(self._controller, "close", None)
        if close is not None:
            close()

    @property
    def controller(self) -> Controller:
        if self._controller is None:
            raise RuntimeError("no controller started on this host (call start first)")
        return self._controller

    def ask(self, n: int = 1) -> list[Trial]:
        """``n`` new outstanding trials (none for ``n = 0``)."""
        return [self.controller.ask() for _ in range(n)]

    def tell(self, trial_id: int, result: TrialResult) -> None:
        self.controller.tell(trial_id, result)

    def tell_and_ask(self, trial_id: int, result: TrialResult, n: int) -> list[Trial]:
        """Tell one result, then ask ``n`` trials that already know it: one round trip per evaluation."""
        self.controller.tell(trial_id, result)
        return self.ask(n)

    def tell_many_and_ask(self, results: list[tuple[int, TrialResult]], n: int) -> list[Trial]:
        """Tell results in order, then ask ``n``: one round trip per evaluator call however many trials it held."""
        for trial_id, result in results:
            self.controller.tell(trial_id, result)
        return self.ask(n)

    def ask_text(self, n: int = 1) -> list[list[Any]]:
        """:meth:`ask` as ``[trial_id, config text]`` pairs, what the search loop sends and records. Formatted here
        (``Controller.config_text``: once per trial, its history entry reuses it), where the configs are the space's
        own choice objects (the fast path of ``Dimension.validate``), and lighter to send than :class:`Trial`
        objects (lists: :data:`PackedResult`)."""
        controller = self.controller
        return [[trial.trial_id, controller.config_text(trial)] for trial in self.ask(n)]

    def tell_and_ask_text(self, results: list[PackedResult], n: int) -> list[list[Any]]:
        """Tell ``results`` (:func:`pack_result` each) in order, then :meth:`ask_text` ``n``: one round trip per
        evaluator call."""
        for trial_id, state, reward, metrics, reason in results:
            self.controller.tell(trial_id, TrialResult(reward=reward, metrics=metrics, state=state, reason=reason))
        return self.ask_text(n)

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict()

    def prepare_state(self) -> None:
        """``Controller.prepare_state``: the next state's history entries made now."""
        self.controller.prepare_state()

    def state_json(self) -> str:
        """:meth:`state_dict` as the JSON text a checkpoint holds (``Controller.state_json``): one string to send,
        and nothing for the driver to encode again."""
        return self.controller.state_json()

    def best(self) -> tuple[Config, float] | None:
        return self.controller.best()

    def pending(self) -> list[int]:
        return list(self.controller.pending)

    def policy(self) -> dict[str, list[float]] | None:
        probabilities = getattr(self.controller, "probabilities", None)
        return probabilities() if probabilities is not None else None

    def most_likely(self) -> Config | None:
        method = getattr(self.controller, "most_likely", None)
        return method() if method is not None else None


def controller_host() -> Any:
    """A started-empty :class:`ControllerHost` actor (no CPU reserved: it idles between calls)."""
    import ray

    return ray.remote(num_cpus=0)(ControllerHost).remote()
