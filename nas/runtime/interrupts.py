"""Ctrl-C (SIGINT) and SIGTERM as one orderly interrupt.

:func:`interrupts_as_keyboard_interrupt` (installed by the CLI) turns SIGTERM into the same
:class:`KeyboardInterrupt` as SIGINT, so both unwind through ``finally`` blocks: checkpoints are saved, MLflow
runs are marked KILLED and Ray is shut down; further signals are ignored on that way out.
:func:`deferred_interrupts` holds either signal while a block that must not be cut in two runs (a result told
to the controller and recorded in the trajectory, a checkpoint save), and delivers it when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active: list[bool] = []  # non-empty inside interrupts_as_keyboard_interrupt
_received: list[int] = []  # signals turned into Interrupted, oldest first


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt that remembers which signal caused it (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    for s in SIGNALS:  # the way out (checkpoint, MLflow, Ray shutdown) is not cut short by a second signal
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def first_signal() -> int | None:
    """The signal that started the current interrupt (Ray re-raises a plain KeyboardInterrupt from ``ray.get``,
    so the exception may not say)."""
    return _received[0] if _received else None


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM raise :class:`Interrupted` in the main thread. Previous handlers come back on
    exit. A no-op outside the main thread."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        if previous[s] is not signal.SIG_IGN:  # `nohup`-style ignored signals stay ignored
            signal.signal(s, _raise)
    _active.append(True)
    _received.clear()
    try:
        yield
    finally:
        _active.pop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def reclaim_signals() -> None:
    """Install the handlers of :func:`interrupts_as_keyboard_interrupt` again, if it is active. Call it after
    ``ray.init``, which replaces the driver's SIGTERM handler with one that exits on the spot (Ray's core then
    logs the signal and aborts), skipping every ``finally``. Signals ignored on the way out stay ignored."""
    if not _active or not _main_thread():
        return
    for s in SIGNALS:
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, _raise)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM are held; on exit the first one held is delivered to the handler that was in
    place (raising KeyboardInterrupt under the CLI or Python's default SIGINT handler; the default action for a
    default SIGTERM). Costs two ``signal.signal`` calls per signal. A no-op outside the main thread."""
    if not _main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            _deliver(held[0], previous[held[0]])


def _deliver(signum: int, handler: object) -> None:
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signum)
