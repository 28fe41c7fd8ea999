"""A local ``nas search`` (no ``--address``) starts Ray so that every TCP socket listened on by the driver and by
the Ray processes of that run (GCS, raylet, agents, controller and evaluator actors, idle workers) is bound to
loopback. Read from the kernel's socket table (``/proc/net/tcp{,6}`` and ``/proc/<pid>/fd``) while it runs: the
search of the ``plugin_search`` fixture (tests/nas/conftest.py, which holds the socket-table readers), shared
with the plug-in controller test."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc socket table")


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_proc_socket_table_addresses(proc_address) -> None:
    _address = proc_address
    assert _address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _address("0000000000000000FFFF00000100007F") == ipaddress.ip_address("::ffff:127.0.0.1")
    assert _address("00000000000000000000000001000000") == ipaddress.ip_address("::1")
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.0.2.2")


@pytest.mark.slow
def test_local_search_listens_on_loopback_only(plugin_search) -> None:
    assert plugin_search.returncode == 0, plugin_search.stderr[-3000:]
    seen = plugin_search.listeners
    names = {name for _, name, _, _ in seen}
    # Not vacuous: the driver, the GCS, the raylet and the job's actors were all seen listening.
    assert {"gcs_server", "raylet"} <= names, seen
    assert any(pid == plugin_search.pid for pid, _, _, _ in seen), seen
    assert any(name.startswith("ray::") and name not in ("ray::IDLE", "ray::RuntimeEnv") for name in names), seen
    exposed = sorted(entry for entry in seen if not is_loopback(entry[2]))
    assert not exposed, f"listening beyond loopback: {exposed}"
