"""Backbones by name, timm style: ``create_backbone("resnet20", num_classes=10)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spaces.backbones.block_spec import Backbone
from spaces.errors import SpaceError

BackboneFactory = Callable[..., Backbone]
_REGISTRY: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    def decorator(factory: BackboneFactory) -> BackboneFactory:
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def create_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build the named backbone; unknown names and bad arguments raise :class:`SpaceError`."""
    if name not in _REGISTRY:
        raise SpaceError(f"unknown backbone {name!r}; known: {', '.join(list_backbones())}",
                         field="backbone.name")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as exc:
        raise SpaceError(f"bad arguments for {name!r}: {exc}", field="backbone") from None
