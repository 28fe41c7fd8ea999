"""The told-config table of REINFORCE's kernel: exact lookups, colliding hashes, growth."""

from __future__ import annotations

import numpy as np

from nas.controllers import reinforce_kernel as kernel


def _find(indices: list[int], sizes: np.ndarray, table: np.ndarray, rows: np.ndarray) -> int:
    row, _ = kernel._find(np.array(indices, dtype=np.int64), sizes, table, rows)
    return int(row)


def test_configs_whose_codes_wrap_to_one_hash_stay_apart() -> None:
    """65 two-choice dimensions: the mixed-radix code loses the first index (``2**64`` wraps to 0), so two configs
    differing only there share a hash. The lookup compares whole rows: each keeps its own reward, and a config
    never told is not found."""
    sizes = np.full(65, 2, dtype=np.int64)
    a, b = [0] + [1] * 64, [1] + [1] * 64
    assert kernel._hash(np.array(a, dtype=np.int64), sizes) == kernel._hash(np.array(b, dtype=np.int64), sizes)
    table, rows, rewards = np.zeros(8, dtype=np.int64), np.zeros((4, 65), dtype=np.int64), np.zeros(4)
    ints = np.zeros(kernel.N_INTS, dtype=np.int64)
    kernel.remember(np.array(a, dtype=np.int64), 1.0, sizes, table, rows, rewards, ints)
    assert _find(a, sizes, table, rows) == 0 and _find(b, sizes, table, rows) == -1
    kernel.remember(np.array(b, dtype=np.int64), 2.0, sizes, table, rows, rewards, ints)
    kernel.remember(np.array(a, dtype=np.int64), 9.0, sizes, table, rows, rewards, ints)  # told before: kept
    assert ints[kernel.I_TOLD] == 2
    assert rewards[_find(a, sizes, table, rows)] == 1.0 and rewards[_find(b, sizes, table, rows)] == 2.0
    assert _find([0] * 65, sizes, table, rows) == -1


def test_a_rebuilt_table_finds_every_told_config() -> None:
    """After the controller doubles the table and rebuilds it, every told config is found at its row, and no
    other is."""
    rng = np.random.default_rng(0)
    sizes = np.array([3, 5, 7, 1, 20], dtype=np.int64)
    configs = {tuple(int(rng.integers(s)) for s in sizes) for _ in range(300)}
    told = [list(c) for c in configs]
    rows, rewards = np.zeros((len(told), len(sizes)), dtype=np.int64), np.zeros(len(told))
    table, ints = np.zeros(1024, dtype=np.int64), np.zeros(kernel.N_INTS, dtype=np.int64)
    for k, config in enumerate(told):
        kernel.remember(np.array(config, dtype=np.int64), float(k), sizes, table, rows, rewards, ints)
    bigger = np.zeros(2048, dtype=np.int64)
    kernel.rebuild_table(sizes, bigger, rows, len(told))
    for k, config in enumerate(told):
        assert _find(config, sizes, table, rows) == k == _find(config, sizes, bigger, rows)
    unseen = next(list(c) for c in np.ndindex(*sizes) if c not in configs)
    assert _find(unseen, sizes, bigger, rows) == -1
