"""Ray Tune integration: any :class:`nas.controllers.Controller` as a Tune search algorithm."""

from __future__ import annotations

from nas.tune.controller_searcher import ControllerSearcher

__all__ = ["ControllerSearcher"]
