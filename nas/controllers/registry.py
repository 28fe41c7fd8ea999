"""Controllers by name: ``create_controller("reinforce", space, seed=0, lr=0.1)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from nas.controllers.controller import Controller
from spaces import SearchSpace

C = TypeVar("C", bound=type[Controller])

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


def list_controllers() -> list[str]:
    """Registered names, in registration order."""
    return list(_REGISTRY)


def controller_class(name: str) -> type[Controller]:
    """The class registered as ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown controller {name!r}; known: {', '.join(_REGISTRY)}") from None


def create_controller(name: str, space: SearchSpace, seed: int = 0, **options: Any) -> Controller:
    """A fresh controller ``name`` over ``space``; ``options`` go to its constructor."""
    return controller_class(name)(space, seed=seed, **options)


def restore_controller(state: Mapping[str, Any], space: SearchSpace) -> Controller:
    """A controller rebuilt from :meth:`Controller.state_dict` output (name, seed and options included)."""
    controller = create_controller(state["controller"], space, seed=int(state["seed"]), **state["options"])
    controller.load_state_dict(state)
    return controller
