"""Progress of the long training phases (pre-training, supernet, teacher, students, baselines), which run in Ray
tasks: a bar with an ETA rendered by the driver (Ray's ``tqdm_ray``), one line per epoch when the driver's
terminal is not interactive (logs, CI), or nothing (``--quiet``)."""

from __future__ import annotations

import sys
import time
from typing import Any, Literal

ProgressMode = Literal["bar", "lines", "off"]
PROGRESS_MODES: tuple[str, ...] = ("bar", "lines", "off")


def progress_mode(enabled: bool, stream: Any = None) -> ProgressMode:
    """What the driver wants: ``off`` when not ``enabled``, ``bar`` on a terminal, else ``lines``."""
    if not enabled:
        return "off"
    stream = stream if stream is not None else sys.stderr
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


def _summary(stats: dict[str, float]) -> str:
    accs = " ".join(f"{v:.2f}" for k, v in stats.items() if k.startswith("train_acc"))
    return f"loss {stats['loss']:.3f}" + (f", train acc per exit {accs}" if accs else "")


class EpochProgress:
    """Per-epoch progress of one stage; call it as a loop's ``on_epoch(epoch, stats)``, then :meth:`close`.

    ``bar`` uses ``ray.experimental.tqdm_ray`` (it works from a Ray task or actor and in the driver alike);
    ``lines`` prints ``<desc> epoch e/E: loss ..., train acc per exit ... (elapsed)``; ``off`` does nothing.
    """

    def __init__(self, desc: str, epochs: int, mode: str = "lines") -> None:
        if mode not in PROGRESS_MODES:
            raise ValueError(f"progress mode must be one of {', '.join(PROGRESS_MODES)}, got {mode!r}")
        self.desc = desc
        self.epochs = epochs
        self.mode = mode
        self.started = time.perf_counter()
        self._bar: Any = None
        if mode == "bar":
            from ray.experimental.tqdm_ray import tqdm

            self._bar = tqdm(desc=desc, total=epochs, unit="epoch")

    def __call__(self, epoch: int, stats: dict[str, float]) -> None:
        if self.mode == "lines":
            print(f"{self.desc} epoch {epoch + 1}/{self.epochs}: {_summary(stats)} "
                  f"({time.perf_counter() - self.started:.0f}s)", flush=True)
        elif self._bar is not None:
            self._bar.set_description(f"{self.desc} ({_summary(stats)})")
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
