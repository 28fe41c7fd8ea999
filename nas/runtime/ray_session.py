"""Start or join Ray with safe defaults (dashboard on 127.0.0.1 unless asked otherwise)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from nas.errors import UserError


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, dashboard: bool = False,
                dashboard_host: str = "127.0.0.1") -> Iterator[None]:
    """``address=None`` starts a local Ray (``num_cpus`` cores); ``"auto"`` or ``ray://...`` joins a cluster.
    A session already initialised by the caller (tests, notebooks) is reused and left running."""
    import ray

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    kwargs: dict[str, object] = {"logging_level": logging.ERROR, "log_to_driver": True}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host=dashboard_host)
    try:
        ray.init(**kwargs)  # type: ignore[arg-type]
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot start or join Ray at {address or 'local'}: {exc}".splitlines()[0]) from None
    try:
        yield
    finally:
        ray.shutdown()
