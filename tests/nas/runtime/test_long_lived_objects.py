"""``freeze_long_lived_objects`` freezes no garbage; ``long_lived_objects_frozen`` lets go of what it froze."""

from __future__ import annotations

import gc
import weakref

from nas.runtime.long_lived_objects import freeze_long_lived_objects, long_lived_objects_frozen


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def _tracked(obj: object) -> bool:
    """In a collected generation (the permanent one is left out of ``gc.get_objects``)."""
    return any(o is obj for o in gc.get_objects())


def test_garbage_is_collected_before_the_freeze_and_what_is_kept_is_frozen() -> None:
    garbage, kept = _Node(), _Node()
    dead = weakref.ref(garbage)
    del garbage
    try:
        count = freeze_long_lived_objects()
        assert dead() is None  # collected first, not frozen
        assert count == gc.get_freeze_count() > 0
        assert not _tracked(kept)  # frozen: skipped by every later collection
    finally:
        gc.unfreeze()
    assert _tracked(kept)


def test_the_context_unfreezes_on_exit_so_garbage_made_before_it_is_collected_after() -> None:
    gc.unfreeze()
    node = _Node()
    alive = weakref.ref(node)
    with long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0 and not _tracked(node)
        del node
        gc.collect()
        assert alive() is not None  # frozen: a full collection inside skips it
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None
