"""One real local ``nas search`` shared by two tests: it runs a controller plug-in (QMC, installed as pip would
lay it out) and, while it runs, the listening TCP sockets of its process tree are read from the kernel's table.
tests/nas/controllers/test_plugin_controllers.py checks the plug-in ran in the controller actor;
tests/nas/runtime/test_loopback_listeners.py that every listener was on loopback. Each test started its own
search of the same kind before (a few seconds of evaluations, half a minute of start-up)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from spaces.loader import preset_text

PLUGIN_MODULE, PLUGIN_NAME = "nas_qmc_plugin", "qmc"
PLUGIN_SOURCE = '''"""Optuna's quasi-Monte Carlo sampler as a nas controller: the README's plug-in example."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import optuna

from nas.controllers import OptunaController


class QMCController(OptunaController):
    """Sobol points over the choice indices."""

    encoding: ClassVar[str] = "index"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        marker = os.environ.get("NAS_QMC_PLUGIN_MARKER")
        if marker:  # which processes built one
            with open(marker, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}\\n")

    def _make_sampler(self, seed: int, **options: Any) -> optuna.samplers.BaseSampler:
        options.setdefault("warn_independent_sampling", False)
        return optuna.samplers.QMCSampler(seed=seed, **options)


NOT_A_CONTROLLER = 42
'''
PLUGIN_BUDGET = 6
TCP_LISTEN = "0A"


def write_plugin(folder: Path, extra_entry_points: str = "") -> Path:
    """The plug-in under ``folder``, as ``pip install`` would leave it in site-packages."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    info = folder / f"{PLUGIN_MODULE}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN_MODULE.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[adaptive_quant_nas.controllers]\n{PLUGIN_NAME} = "
                                           f"{PLUGIN_MODULE}:QMCController\n{extra_entry_points}")
    return folder


def decode_address(hex_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
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
                table[int(fields[9])] = (str(decode_address(hex_ip)), int(hex_port, 16))
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


@dataclass(frozen=True)
class PluginSearch:
    """The finished search: its folder (``runs/<run_id>/`` under ``root``), the driver's pid, exit status and
    output, the pids that built a plug-in controller (``built_by``) and the listeners seen while it ran (empty
    where there is no ``/proc/net/tcp``)."""

    root: Path
    pid: int
    returncode: int
    stdout: str
    stderr: str
    built_by: set[int]
    listeners: set[tuple[int, str, str, int]]


@pytest.fixture(scope="session")
def proc_address() -> Callable[[str], ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """:func:`decode_address`: how the listener readers decode ``/proc/net/tcp*`` addresses."""
    return decode_address


@pytest.fixture(scope="session")
def qmc_plugin() -> Callable[..., Path]:
    """``qmc_plugin(folder, extra_entry_points="")``: :func:`write_plugin`."""
    return write_plugin


@pytest.fixture(scope="session")
def plugin_search(tmp_path_factory: pytest.TempPathFactory) -> PluginSearch:
    """A local ``nas search`` (no ``--address``, no ``RAY_ADDRESS``) of tiny-digits on synthetic data with the
    plug-in controller, 6 evaluations, one worker; its process tree's listeners read every 0.2 s while it runs."""
    root = tmp_path_factory.mktemp("plugin_search")
    site = write_plugin(root / "site")
    space = yaml.safe_load(preset_text("tiny-digits"))
    space["dataset"] = {"name": "synthetic", "num_classes": 10, "in_channels": 1, "input_size": 8,
                        "samples_per_class": 40}
    (root / "space.yaml").write_text(yaml.safe_dump(space))
    marker = root / "built-by.txt"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(":"),
               NAS_QMC_PLUGIN_MARKER=str(marker))
    watch = Path("/proc/net/tcp").exists()
    with open(root / "stdout.txt", "w+") as out, open(root / "stderr.txt", "w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "nas.cli.main", "search", "space.yaml", "--controller", PLUGIN_NAME, "--budget",
             str(PLUGIN_BUDGET), "--workers", "1", "--num-cpus", "1", "--supernet-epochs", "1", "--pretrain-epochs",
             "1", "--bn-recalibration", "0", "--quiet", "--runs-dir", "runs", "--tracking-uri",
             f"sqlite:///{root / 'mlflow.db'}"], cwd=root, env=env, stdout=out, stderr=err, text=True,
            start_new_session=True)
        seen: set[tuple[int, str, str, int]] = set()
        deadline = time.monotonic() + 240  # the listener test's limit (the plug-in test allowed 600 s)
        try:
            while process.poll() is None and time.monotonic() < deadline:
                if watch:
                    seen |= listeners_of(process.pid)
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    built_by = {int(line) for line in marker.read_text().split()} if marker.exists() else set()
    return PluginSearch(root, process.pid, process.returncode, stdout, stderr, built_by, seen)
