"""Supernet weight training as a Ray task (USDN Sec. 4.2 warm-up with uniform path sampling)."""

from __future__ import annotations

import random
import time
from typing import Any

import torch

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


def train_supernet_state(space: SearchSpace, data: DataSpec, schedule: TrainingSchedule, seed: int = 0,
                         num_threads: int = 1, verbose: bool = True) -> dict[str, Any]:
    """Train the supernet with uniformly sampled paths; returns CPU weights and the epoch log."""
    from trainers.data import make_loader
    from trainers.networks import build_supernet
    from trainers.training import default_device, prepare_worker_process, train_supernet

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    loader = make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed)
    net = build_supernet(space).to(default_device())
    rng = random.Random(seed)
    start = time.perf_counter()

    def report(epoch: int, stats: dict[str, float]) -> None:
        if verbose:
            accs = " ".join(f"{v:.2f}" for k, v in stats.items() if k.startswith("train_acc"))
            print(f"supernet epoch {epoch + 1}/{schedule.epochs}: loss {stats['loss']:.3f}, "
                  f"train acc per exit {accs} ({time.perf_counter() - start:.0f}s)", flush=True)

    log = train_supernet(net, loader, schedule, lambda: space.sample(rng), on_epoch=report)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    return {"state": state, "epochs": log.epochs}
