"""Process set-up for the platform's torch workers (evaluator and trainer actors, training tasks)."""

from __future__ import annotations

import ctypes
import ctypes.util

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_RETAIN_BYTES = 2**31 - 1


def retain_freed_memory() -> bool:
    """Keep freed memory in glibc's heap for reuse: ``mallopt`` raises the mmap and trim thresholds to 2 GiB.

    PyTorch's CPU allocator has no cache of its own. Under glibc's defaults every block above the (dynamic, at
    most 32 MiB) mmap threshold is a fresh ``mmap`` and heap tops above 128 KiB go back to the OS, so each
    forward pass faults its activation pages in again: measured on the 2-core VM this project runs on, about
    14,000 minor faults and a fifth of an evaluation's CPU time in the kernel, and two processes faulting at once
    slow each other. With the thresholds raised a worker keeps its peak working set, which a worker that repeats
    the same passes reaches in its first pass anyway. Returns False where the C library is not glibc (a no-op).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _RETAIN_BYTES)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, _RETAIN_BYTES))
    except (OSError, AttributeError):
        return False


def prepare_worker_process(num_threads: float) -> None:
    """Start of every platform worker: ``num_threads`` torch intra-op threads (its CPU share, at least 1) and
    :func:`retain_freed_memory`. Meant for processes the platform owns (Ray actors and tasks)."""
    torch.set_num_threads(max(1, int(num_threads)))
    retain_freed_memory()
