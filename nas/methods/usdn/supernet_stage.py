"""Supernet weight training as a Ray task: full-precision pre-training, then the USDN supernet from it
(supplement App. A), trained with uniform path sampling (the warm-up of USDN Sec. 4.2)."""

from __future__ import annotations

import random
from typing import Any

import torch

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule

CALIBRATION_BATCHES = 4
"""Training batches whose full-precision activations set the supernet's initial PACT clipping levels."""


def train_supernet_state(space: SearchSpace, data: DataSpec, schedule: TrainingSchedule, seed: int = 0,
                         num_threads: int = 1, verbose: bool = True, *, init: str = "pretrained",
                         pretrain: TrainingSchedule | None = None, progress: str | None = None) -> dict[str, Any]:
    """Train the supernet; returns CPU weights (``state``), the epoch logs (``epochs``, ``pretrain_epochs``), the
    per-optimiser-step logs (``steps``, ``pretrain_steps``: loss and learning rate of every step),
    the full-precision pre-trained weights (``pretrained``, ``None`` unless ``init="pretrained"``) and
    ``alpha_init`` (mean initial PACT alpha of the body convs).

    ``init`` (:data:`trainers.networks.INIT_MODES`): ``pretrained`` trains the full-precision multi-exit network
    (an IC at every candidate location, exits sampled uniformly per batch) with ``pretrain`` first, then gives
    every bit-width candidate its weights and BN and a data-fitted PACT alpha; ``shared`` starts every
    candidate from one random init; ``independent`` from K random inits. ``progress``: a
    :class:`~nas.runtime.training_progress.EpochProgress` mode (default ``lines`` if ``verbose`` else ``off``).
    """
    from nas.runtime.training_progress import EpochProgress
    from trainers.data import make_loader
    from trainers.networks import (
        INIT_MODES,
        build_pretraining_network,
        build_supernet,
        calibrate_activation_clipping,
        collect_layer_inputs,
        initialise_from,
        share_candidates,
    )
    from trainers.training import default_device, prepare_worker_process, train_supernet

    if init not in INIT_MODES:
        raise ValueError(f"init must be one of {', '.join(INIT_MODES)}, got {init!r}")
    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    loader = make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)
    device = default_device()
    rng = random.Random(seed)
    mode = progress or ("lines" if verbose else "off")

    step_logs: dict[str, list[dict[str, float]]] = {"full-precision pre-training": [], "supernet": []}

    def train(network: Any, stage: str, stage_schedule: TrainingSchedule) -> list[dict[str, float]]:
        bar = EpochProgress(stage, stage_schedule.epochs, mode)
        steps = step_logs[stage]
        try:
            return train_supernet(network, loader, stage_schedule, lambda: space.sample(rng), on_epoch=bar,
                                  on_step=lambda step, metrics: steps.append(dict(metrics))).epochs
        finally:
            bar.close()

    net = build_supernet(space).to(device)
    pretrained_state = None
    pretrain_log: list[dict[str, float]] = []
    if init == "pretrained":
        pretrain = pretrain or schedule
        fp_net = build_pretraining_network(space).to(device)
        pretrain_log = train(fp_net, "full-precision pre-training", pretrain)
        initialise_from(net, fp_net)
        batches = [x for (x, _), _ in zip(loader, range(CALIBRATION_BATCHES), strict=False)]
        calibrate_activation_clipping(net, collect_layer_inputs(fp_net, batches, seed))
        pretrained_state = {k: v.detach().cpu() for k, v in fp_net.state_dict().items()}
    elif init == "shared":
        share_candidates(net)
    alphas = [float(m.act_quant.alpha.detach()) for name, m in net.named_modules()
              if name.startswith("blocks.") and hasattr(m, "act_quant") and m.a_bits is not None]
    epochs = train(net, "supernet", schedule)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    return {"state": state, "epochs": epochs, "pretrain_epochs": pretrain_log, "pretrained": pretrained_state,
            "alpha_init": sum(alphas) / max(1, len(alphas)), "steps": step_logs["supernet"],
            "pretrain_steps": step_logs["full-precision pre-training"]}
