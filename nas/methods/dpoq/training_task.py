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
    list of one precision is individual QAT at that precision with the same quantizers and schedule). The
    schedule takes the paper's shape (:func:`~trainers.methods.dpoq.paper_schedule`: multistep /10 at 50, 75 and
    90 % of training, weight decay 5e-4) with ``schedule``'s epochs, rate and batch."""
    import torch

    from nas.runtime.training_progress import EpochProgress
    from trainers.data import make_loader
    from trainers.methods.dpoq import build_onion_network, paper_schedule, train_precisions
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    schedule = paper_schedule(schedule)
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


def score_onion_state(space: SearchSpace, data: DataSpec, state: dict[str, Any], *,
                      bit_list: tuple[int, ...] | None = None, bn: str | None = None, training: str | None = None,
                      num_threads: int = 1) -> dict[str, Any]:
    """Every precision of the network ``state`` on the test split: ``correct`` (one 0/1 list per precision, each
    precision's own softmax) and ``ensemble_correct`` (the mean softmax of precisions ``1..p``, DPOQ Sec. 3.3)."""
    import torch

    from trainers.data import materialize
    from trainers.early_exit import ensemble_probs
    from trainers.methods.dpoq import build_onion_network
    from trainers.training import prepare_worker_process

    prepare_worker_process(num_threads)
    net = build_onion_network(space, bit_list=bit_list, bn=bn, training=training)
    net.load_state_dict(state)
    net.eval()
    inputs, labels = materialize(data.load().test)
    with torch.inference_mode():
        logits = torch.cat([net(inputs[i:i + 1024]) for i in range(0, len(inputs), 1024)], dim=1).float()
    probs = logits.softmax(dim=-1)
    own = (probs.argmax(dim=-1) == labels).int()
    ensemble = (ensemble_probs(probs).argmax(dim=-1) == labels).int()
    return {"correct": own.tolist(), "ensemble_correct": ensemble.tolist()}


def train_and_test_onion(space: SearchSpace, data: DataSpec, schedule: TrainingSchedule, seed: int = 0,
                         num_threads: int = 1, *, bit_list: tuple[int, ...] | None = None, bn: str | None = None,
                         training: str | None = None, label: str = "dpoq") -> dict[str, Any]:
    """:func:`train_onion_state` then :func:`score_onion_state` of the result, in one task."""
    out = train_onion_state(space, data, schedule, seed, num_threads, bit_list=bit_list, bn=bn, training=training,
                            label=label)
    out.update(score_onion_state(space, data, out["state"], bit_list=bit_list, bn=bn, training=training,
                                num_threads=num_threads))
    return out
