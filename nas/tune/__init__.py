"""Ray Tune integration: any :class:`nas.controllers.Controller` as a Tune search algorithm, and the platform's
evaluation and training as Tune trainables."""

from __future__ import annotations

from nas.tune.controller_searcher import ControllerSearcher
from nas.tune.trainables import evaluation_trainable, training_trainable, tune_param_space

__all__ = ["ControllerSearcher", "evaluation_trainable", "training_trainable", "tune_param_space"]
