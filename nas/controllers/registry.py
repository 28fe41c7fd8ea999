"""Controllers by name: ``create_controller("reinforce", space, seed=0, lr=0.1)``.

Names come from two places: classes decorated with :func:`register_controller` in an imported module (the
built-ins), and package entry points in the group :data:`ENTRY_POINT_GROUP` (``name = "module:Class"``), which is
how a user's controller reaches every process: the ``nas`` CLI lists it among ``--controller`` choices, and the
Ray controller actor, the run-folder checks and :class:`nas.tune.ControllerSearcher` load it by name, each in its
own process, from the installed package's metadata. A plug-in is imported only when its name is first used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from nas.controllers.controller import Controller
from spaces import SearchSpace

C = TypeVar("C", bound=type[Controller])

ENTRY_POINT_GROUP = "adaptive_quant_nas.controllers"
"""The entry-point group of controllers: ``[project.entry-points."adaptive_quant_nas.controllers"]``."""

_REGISTRY: dict[str, type[Controller]] = {}


def register_controller(name: str) -> Callable[[C], C]:
    """Class decorator: register a :class:`Controller` subclass under ``name`` (sets ``cls.name``)."""

    def decorate(cls: C) -> C:
        if not name:
            raise ValueError("a controller needs a non-empty name")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"controller name {name!r} is already registered by {_REGISTRY[name].__name__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    """Entry points of :data:`ENTRY_POINT_GROUP` by name (the first of a name wins, as ``importlib`` orders them)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return found


def refresh_entry_points() -> None:
    """Forget the entry points read so far (after installing a plug-in into a running interpreter)."""
    _entry_points.cache_clear()


def _load(point: EntryPoint) -> type[Controller]:
    where = f"controller {point.name!r} (entry point {point.value!r} of group {ENTRY_POINT_GROUP})"
    try:
        loaded = point.load()
    except Exception as exc:  # a broken plug-in: one line naming it
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{where} cannot be loaded: {type(exc).__name__}: {detail}") from None
    if not (isinstance(loaded, type) and issubclass(loaded, Controller)):
        raise ValueError(f"{where} is {loaded!r}, not a Controller subclass")
    if _REGISTRY.get(point.name) is loaded:  # a built-in, or a class its module registered under this name
        return loaded
    if loaded.name and _REGISTRY.get(loaded.name) is loaded:
        raise ValueError(f"{where} names a class registered as {loaded.name!r}: give the entry point that name")
    return register_controller(point.name)(loaded)


def list_controllers() -> list[str]:
    """Registered names in registration order, then the names of plug-ins not imported yet."""
    return [*_REGISTRY, *(name for name in _entry_points() if name not in _REGISTRY)]


def controller_class(name: str) -> type[Controller]:
    """The class registered as ``name``, a plug-in loaded from its entry point on first use; ``ValueError``
    listing the known names otherwise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    point = _entry_points().get(name)
    if point is None:
        raise ValueError(f"unknown controller {name!r}; known: {', '.join(list_controllers())}")
    return _load(point)


def create_controller(name: str, space: SearchSpace, seed: int = 0, **options: Any) -> Controller:
    """A fresh controller ``name`` over ``space``; ``options`` go to its constructor."""
    return controller_class(name)(space, seed=seed, **options)


def create_for_state(name: str, space: SearchSpace, seed: int, options: Mapping[str, Any] | None,
                     state: Mapping[str, Any] | None, **extra: Any) -> Controller:
    """Controller ``name`` built as the one that saved ``state`` was (its class's
    :meth:`~nas.controllers.controller.Controller.resume_options` of the recorded options, then the search's own
    ``options`` on top) and restored from it; a fresh one without ``state``. ``extra``: constructor arguments that
    are not options (an Optuna study's storage)."""
    cls = controller_class(name)
    built = {**(cls.resume_options(state.get("options", {})) if state is not None else {}), **(options or {})}
    controller = cls(space, seed=seed, **built, **extra)
    if state is not None:
        controller.load_state_dict(state)
    return controller


def restore_controller(state: Mapping[str, Any], space: SearchSpace) -> Controller:
    """A controller rebuilt from :meth:`Controller.state_dict` output (name, seed and options included)."""
    controller = create_controller(state["controller"], space, seed=int(state["seed"]), **state["options"])
    controller.load_state_dict(state)
    return controller
