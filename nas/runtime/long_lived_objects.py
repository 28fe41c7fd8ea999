"""The garbage collector told which objects a platform process keeps for its whole run.

A worker, the controller host or a driver imports torch, Ray, MLflow and Optuna and loads a network before its
first trial: about 280,000 objects that the cyclic garbage collector tracks and traverses, for nothing, in every
full (oldest-generation) collection. On the 2-core VM this project runs on one such collection took 167-180 ms
in the middle of a search of 2,000 cheap trials that takes 0.4-0.5 s (``search_overhead.py --cheap-trials``: in
the driver; and in a plain search loop in one process, 0.52 s with the collection against 0.31-0.38 s without).
``gc.freeze`` (CPython's own tool for this) moves the objects tracked so far into a permanent generation that
collections skip.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def freeze_long_lived_objects() -> int:
    """Collect, then ``gc.freeze()`` what is left; returns how many objects the permanent generation holds.

    For a process that lives for a job (an evaluator actor, the controller host): call it once its set-up is done
    (imports, network, data), before its steady work. The collection first means no garbage is frozen; frozen
    objects are still freed by reference counting, and only a reference cycle among them would outlive its use."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Inside: what the process tracked on entry is frozen (``gc.freeze``), so collections traverse only what
    was made since. On exit it is unfrozen (``gc.unfreeze``), collectable again: for a driver, whose process
    (a CLI command, a notebook, a test session) may hold garbage of earlier work on entry. No collection is
    made on entry, so entering costs nothing. The exit unfreezes everything, also what an earlier
    :func:`freeze_long_lived_objects` of the same process froze (only a test, where actor objects are built in
    the driver's process, does both): that costs later collections time, never memory."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
