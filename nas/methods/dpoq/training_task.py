"""DPOQ training as a Ray task: the onion network of a space (or one of its ablations, or an individual QAT
network at one precision) trained with Eq. 5 from scratch, as the paper trains it (Sec. 4)."""

from __future__ import annotations

from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


def train_onion_state(space: SearchSpace, data: DataSpec, schedule: TrainingSchedule, seed: int = 0,
                      num_threads: int = 1, *, bit_list: tuple[int, ...] | None = None, bn: str | None = None,
                      training: str | None = None, progress: str = "off", label: str = "dpoq") -> dict[str, Any]:
    """Train and return CPU weights (``state``), the epoch logs (``epochs``) and every optimiser step's loss and
    learning rate (``steps``). ``bit_list`` / ``bn`` / ``training`` override the space's ``precision:`` (a bit
    list of one precision is individual QAT at that precision with the same quantizers and schedule)."""
    import torch

    from nas.runtime.training_progress import EpochProgress
    from trainers.data import make_loader
    from trainers.methods.dpoq import build_onion_network, train_precisions
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    loader = make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)
    net = build_onion_network(space, bit_list=bit_list, bn=bn, training=training).to(default_device())
    steps: list[dict[str, float]] = []
    bar = EpochProgress(label, schedule.epochs, progress)
    try:
        log = train_precisions(net, loader, schedule, on_epoch=bar,
                               on_step=lambda step, metrics: steps.append(dict(metrics)))
    finally:
        bar.close()
    return {"state": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "epochs": log.epochs,
            "steps": steps}
