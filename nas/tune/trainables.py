"""The platform's objective as Ray Tune trainables, for users who drive the search with ``ray.tune`` (ASHA,
HyperBand, any Tune searcher or :class:`~nas.tune.ControllerSearcher`)::

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from nas.tune import training_trainable, tune_param_space

    tuner = tune.Tuner(training_trainable(space, data, supernet_state, epochs=8),
                       param_space=tune_param_space(space),
                       tune_config=tune.TuneConfig(metric="reward", mode="max", num_samples=32,
                                                   scheduler=ASHAScheduler(max_t=8, grace_period=1)))

:func:`evaluation_trainable` scores one configuration on a trained supernet, as an evaluator actor of ``nas
search`` does (one report); :func:`training_trainable` fine-tunes the configuration's path of the supernet (USDN
Eq. 4 on that path) and reports after every epoch, so a scheduler can stop weak configurations early. Both read a
trial's config in text form (``{"layer1.0.conv1.bits": "W4A4", "group0.exit": "layer1.1", ...}``: what
:func:`tune_param_space` and ``ControllerSearcher`` produce; other keys are ignored) and report ``reward``,
``ee_accuracy``, ``expected_bops``, ``static_bops`` and the exit rates. The supernet weights go through Ray's
object store once (``tune.with_parameters``); each trial loads its data on its own node from ``data``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import Budget, SearchSpace

REPORTED = ("reward", "ee_accuracy", "expected_bops", "inference_bops", "static_bops")


def tune_param_space(space: SearchSpace) -> dict[str, Any]:
    """A Tune ``param_space``: ``tune.choice`` over the text form of each dimension's choices."""
    from ray import tune

    return {d.label: tune.choice([d.format(c) for c in d.choices]) for d in space.dimensions}


def _metrics(result: Any) -> dict[str, float]:
    metrics = result.metrics()
    out = {key: float(metrics[key]) for key in REPORTED}
    out.update({key: float(value) for key, value in metrics.items() if key.startswith("exit_rate_")})
    return out


def _setup(space: SearchSpace, data: DataSpec, state: Mapping[str, Any] | None, num_threads: int,
           calibration_samples: int) -> tuple[Any, Any, Any]:
    """(network, evaluator, splits) in this trial's process."""
    from trainers.data import calibration_inputs, materialize
    from trainers.methods import method_networks
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    splits = data.load()
    networks = method_networks(space.method)
    net = networks.build(space)
    if state is not None:
        net.load_state_dict(state)
    inputs, labels = materialize(splits.val)
    calibration = (calibration_inputs(splits.train, calibration_samples, data.seed) if calibration_samples
                   else None)
    evaluator = networks.evaluator(space, net, inputs, labels, device=default_device(),
                                   calibration_inputs=calibration)
    return net, evaluator, splits


def evaluation_trainable(space: SearchSpace, data: DataSpec, supernet_state: Mapping[str, Any], *,
                         budget: Budget | None = None, bn_recalibration: int = 0, num_threads: int = 1
                         ) -> Callable[..., Any]:
    """A Tune function trainable: one evaluation of the trial's configuration on ``supernet_state`` (the reward
    of USDN Eq. 7 under ``budget``, default the space's), reported once. A non-finite evaluation reports
    ``reward = nan`` (``ControllerSearcher`` tells it as failed)."""
    from ray import tune

    def evaluate_config(config: dict[str, Any], supernet_state: Mapping[str, Any]) -> None:
        _, evaluator, _ = _setup(space, data, supernet_state, num_threads, bn_recalibration)
        result = evaluator.evaluate(space.parse({label: config[label] for label in space.labels}), budget)
        metrics = _metrics(result)
        if not result.finite:
            metrics["reward"] = math.nan
        tune.report(metrics)

    return tune.with_parameters(evaluate_config, supernet_state=dict(supernet_state))


def training_trainable(space: SearchSpace, data: DataSpec, supernet_state: Mapping[str, Any] | None = None, *,
                       epochs: int = 5, lr: float = 0.01, batch_size: int = 64, budget: Budget | None = None,
                       seed: int = 0, num_threads: int = 1) -> Callable[..., Any]:
    """A Tune function trainable: the trial's configuration is trained for ``epochs`` epochs (multi-exit CE on
    its path of the supernet, warm-started from ``supernet_state`` when given; SGD with cosine learning rate
    from ``lr``), and after every epoch scored on the validation split and reported with ``epoch`` and the
    epoch's training ``loss``, so that ASHA or HyperBand (``time_attr="training_iteration"``) can stop it."""
    from ray import tune

    from trainers.training import TrainingSchedule

    schedule = TrainingSchedule(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=5e-4)

    def train_config(config: dict[str, Any], supernet_state: Mapping[str, Any] | None) -> None:
        import torch

        from trainers.data import make_loader
        from trainers.methods import method_networks

        torch.manual_seed(seed)
        net, evaluator, splits = _setup(space, data, supernet_state, num_threads, 0)
        chosen = space.parse({label: config[label] for label in space.labels})
        loader = make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)

        def report(epoch: int, stats: dict[str, float]) -> None:
            net.eval()
            metrics = _metrics(evaluator.evaluate(chosen, budget))
            tune.report({**metrics, "epoch": epoch + 1, "loss": stats["loss"]})

        method_networks(space.method).train_paths(net, loader, schedule, lambda: chosen, device=evaluator.device,
                                                  on_epoch=report)

    state = None if supernet_state is None else dict(supernet_state)
    return tune.with_parameters(train_config, supernet_state=state)
