"""Start or join Ray with safe defaults: a local Ray listens on loopback only and its dashboard is off (or on
127.0.0.1)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from nas.errors import UserError

log = logging.getLogger(__name__)

# Ray's single-machine switch (default off on macOS and Windows): a node started while it is "0" takes the
# loopback address as its node IP, and Ray then binds every server of that node to it.
_SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@contextlib.contextmanager
def loopback_node_ip() -> Iterator[None]:
    """While a local ``ray.init`` runs inside it, the node takes 127.0.0.1 as its IP: the GCS, the raylet and
    object manager, every core worker (driver, actors, tasks) and the runtime-env and dashboard agents then
    listen on loopback instead of on every interface. Ray reads the switch once, at import, so the imported
    constant is flipped as well; both are restored on exit (the started node keeps its address)."""
    from ray._private import ray_constants

    saved_env = os.environ.get(_SINGLE_MACHINE_ENV)
    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    os.environ[_SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(_SINGLE_MACHINE_ENV, None)
        else:
            os.environ[_SINGLE_MACHINE_ENV] = saved_env


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, dashboard: bool = False,
                dashboard_host: str = "127.0.0.1") -> Iterator[None]:
    """``address=None`` starts a fresh local Ray (``num_cpus`` cores) that listens on 127.0.0.1 only (and, from
    Ray 2.59 on, unless ``RAY_AUTH_MODE`` says otherwise, requires Ray's token ``~/.ray/auth_token``);
    ``"auto"`` or ``ray://...`` joins a cluster as it is. A session already initialised by the caller (tests,
    notebooks) is reused and left running. Worker output is always forwarded to the driver (``log_to_driver``):
    with it off, Ctrl-C on the driver was not acted upon (tested in ``tests/nas/cli/test_interrupts.py``), so
    ``--quiet`` silences the platform's own progress output instead."""
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
        # "local": a fresh node even if RAY_ADDRESS is set or a `ray start` cluster runs on this machine
        kwargs.update(address="local", num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host=dashboard_host)
    try:
        with contextlib.nullcontext() if address else loopback_node_ip():
            ray.init(**kwargs)  # type: ignore[arg-type]
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot start or join Ray at {address or 'local'}: {exc}".splitlines()[0]) from None
    if not address and ray.util.get_node_ip_address() not in _LOOPBACK:
        log.warning("local Ray took node IP %s: its servers may listen on every interface",
                    ray.util.get_node_ip_address())
    try:
        yield
    finally:
        ray.shutdown()
