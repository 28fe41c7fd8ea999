"""Worker-process set-up: threads, and freed memory kept in the heap for reuse.

How many page faults that saves is a measurement, not a contract: ``--malloc-tuning`` of the torch benchmarks
(``benchmarks/train_step_throughput.py``, ``benchmarks/evaluator_throughput.py``) prints it. Here the contract is
checked from glibc's own accounting (``mallinfo2``): a block above the default mmap threshold comes from the heap,
not from a fresh ``mmap``, and stays there, free for reuse, after it is released.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import torch

from trainers.training import prepare_worker_process, retain_freed_memory

# 64 MiB blocks: above glibc's largest dynamic mmap threshold (32 MiB), so by default each one is its own mmap.
HEAP_ACCOUNTING_OF_ONE_BLOCK = """
import ctypes, json, sys, torch
from trainers.training import retain_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "retain":
    assert retain_freed_memory()
before = libc.mallinfo2()
block = torch.empty(16 * 2**20)
block.fill_(1.0)
held = libc.mallinfo2()
del block
released = libc.mallinfo2()
print(json.dumps({"mmapped_while_held": held.hblkhd - before.hblkhd,
                  "free_in_heap_after_release": released.fordblks}))
"""


def _heap_accounting(mode: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", HEAP_ACCOUNTING_OF_ONE_BLOCK, mode], capture_output=True,
                         text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_retained_memory_stays_in_the_heap_for_reuse() -> None:
    if platform.libc_ver()[0] != "glibc":
        assert retain_freed_memory() is False  # documented no-op elsewhere
        return
    block = 64 * 2**20
    default, retained = _heap_accounting("default"), _heap_accounting("retain")
    assert default["mmapped_while_held"] >= block  # by default the block is a fresh mmap, unmapped on release
    assert retained["mmapped_while_held"] == 0  # retained: it comes from the heap ...
    assert retained["free_in_heap_after_release"] >= block  # ... and stays there, free, once released
    assert default["free_in_heap_after_release"] < block


def test_prepare_worker_process_sets_the_thread_count() -> None:
    threads = torch.get_num_threads()
    try:
        prepare_worker_process(1.5)
        assert torch.get_num_threads() == 1
        prepare_worker_process(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
