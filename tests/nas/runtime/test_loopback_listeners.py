"""A local ``nas search`` (no ``--address``) starts Ray so that every TCP socket listened on by the driver and by
the Ray processes of that run (GCS, raylet, agents, controller and evaluator actors, idle workers) is bound to
loopback. Read from the kernel's socket table (``/proc/net/tcp{,6}`` and ``/proc/<pid>/fd``) while it runs."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spaces.loader import preset_text

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc socket table")

TCP_LISTEN = "0A"


def _address(hex_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``/proc/net/tcp*`` prints addresses as 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_ip)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_sockets() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state, IPv4 and IPv6."""
    table: dict[int, tuple[str, int]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(name):
            continue
        with open(name) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] != TCP_LISTEN:
                    continue
                hex_ip, hex_port = fields[1].split(":")
                table[int(fields[9])] = (str(_address(hex_ip)), int(hex_port, 16))
    return table


def process_tree(root: int) -> set[int]:
    """``root`` and all its descendants, from the parent ids in ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(children.get(pid, []))
    return tree


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def command_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return "?"


def listeners_of(root: int) -> set[tuple[int, str, str, int]]:
    """(pid, process name, address, port) of every listening TCP socket held by ``root``'s process tree."""
    table = listening_sockets()
    found = set()
    for pid in process_tree(root):
        for inode in socket_inodes(pid) & table.keys():
            found.add((pid, command_name(pid), *table[inode]))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def space_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(preset_text("tiny-digits"))
    data["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                       "samples_per_class": 40}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_proc_socket_table_addresses() -> None:
    assert _address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _address("0000000000000000FFFF00000100007F") == ipaddress.ip_address("::ffff:127.0.0.1")
    assert _address("00000000000000000000000001000000") == ipaddress.ip_address("::1")
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.0.2.2")


@pytest.mark.slow
def test_local_search_listens_on_loopback_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas.cli.main", "search", str(space_file(tmp_path)), "--controller", "random",
         "--budget", "4", "--workers", "1", "--num-cpus", "1", "--supernet-epochs", "1", "--pretrain-epochs", "1",
         "--bn-recalibration", "0", "--quiet",
         "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--runs-dir", str(tmp_path / "runs")],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen: set[tuple[int, str, str, int]] = set()
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= listeners_of(proc.pid)
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    names = {name for _, name, _, _ in seen}
    # Not vacuous: the driver, the GCS, the raylet and the job's actors were all seen listening.
    assert {"gcs_server", "raylet"} <= names, seen
    assert any(pid == proc.pid for pid, _, _, _ in seen), seen
    assert any(name.startswith("ray::") and name not in ("ray::IDLE", "ray::RuntimeEnv") for name in names), seen
    exposed = sorted(entry for entry in seen if not is_loopback(entry[2]))
    assert not exposed, f"listening beyond loopback: {exposed}"
