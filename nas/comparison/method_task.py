"""One method x seed of a comparison as a Ray task (``num_cpus=1``): its space on the common backbone, its front,
and the task's wall time, returned as the JSON of its ``result.json``."""

from __future__ import annotations

import time
from typing import Any

from nas.comparison.comparison_spaces import CommonBackbone
from nas.comparison.entries import entry
from nas.comparison.front import FrontRequest
from nas.runtime.data_spec import DataSpec


def run_method_seed(name: str, backbone: CommonBackbone, data: DataSpec, budgets: tuple[float, ...], seed: int,
                    epochs: int, search_budget: int, controller: str) -> dict[str, Any]:
    """The front of entry ``name`` at ``seed`` as plain JSON (``method``, ``seed``, ``wall_seconds`` added)."""
    from trainers.training import prepare_worker_process

    prepare_worker_process(1)
    started = time.perf_counter()
    found = entry(name)
    space = found.space(backbone, {"name": data.name, **data.options}, epochs)
    request = FrontRequest(space, data, budgets, seed, epochs, found.lr, search_budget, controller,
                           log=lambda line: print(line, flush=True))
    front = found.front(request)
    return {"method": name, "seed": seed, "space": space.name, "wall_seconds": time.perf_counter() - started,
            **front.to_json()}
