"""Worker-process set-up: threads, and freed memory kept for reuse (no page-fault churn on repeated passes)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
import torch

from trainers.training import prepare_worker_process, retain_freed_memory

# 64 MiB blocks: above glibc's largest dynamic mmap threshold (32 MiB), so by default each one is a fresh mmap.
FAULTS_OF_REPEATED_ALLOCATIONS = """
import resource, sys, torch
from trainers.training import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.empty(16 * 2**20).fill_(1.0)
before = faults()
for _ in range(5):
    torch.empty(16 * 2**20).fill_(1.0)
print(faults() - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", FAULTS_OF_REPEATED_ALLOCATIONS, mode], capture_output=True,
                         text=True, check=True, timeout=120)
    return int(out.stdout.split()[-1])


@pytest.mark.slow
def test_retained_memory_is_reused_without_page_faults() -> None:
    if platform.libc_ver()[0] != "glibc":
        assert retain_freed_memory() is False  # documented no-op elsewhere
        return
    default, retained = _faults("default"), _faults("retain")
    block = 64 * 2**20 // 4096  # pages of one block
    assert default > 0.8 * 5 * block  # every one of the 5 allocations faults its pages in again
    assert retained < 1.1 * block  # at most one block's pages are ever new: the heap keeps and reuses it


def test_prepare_worker_process_sets_the_thread_count() -> None:
    threads = torch.get_num_threads()
    try:
        prepare_worker_process(1.5)
        assert torch.get_num_threads() == 1
        prepare_worker_process(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
