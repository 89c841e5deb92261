"""Shared by the benchmark scripts: timing a `devbench run`, a lab device behind a private adb
server, and printing a figure with its goal."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEVBENCH = [sys.executable, "-m", "devbench"]


def timed_run(cfg: Path, *extra: str, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    res = subprocess.run(
        [*DEVBENCH, "run", str(cfg), "--quiet", *extra], capture_output=True, text=True, timeout=timeout
    )
    return time.monotonic() - start, res


def run_dir(res: subprocess.CompletedProcess) -> Path:
    """The run folder a `devbench run` printed on stderr ("devbench: run DIR")."""
    m = re.search(r"^devbench: run (.+)$", res.stderr, re.M)
    if not m:
        raise RuntimeError(f"devbench run printed no run folder (exit {res.returncode}): {res.stderr.strip()[-500:]}")
    return Path(m.group(1))


def results_of(res: subprocess.CompletedProcess) -> dict[str, Any]:
    return json.loads((run_dir(res) / "results.json").read_text())


# What a run on a kernel without CONFIG_ANON_VMA_NAME (this host's, the lab devices') records
# and still measures its unnamed arms: devbench then exits 1, and the figure stands.
EXPECTED_ERRORS = frozenset({"kernel-lacks-anon-vma-name"})


def outcome(res: subprocess.CompletedProcess) -> str:
    """How a timed `devbench run` ended: its exit code and the kinds of error it recorded.
    Raises RuntimeError if it recorded any other than EXPECTED_ERRORS (its time would not be
    a measurement of the work)."""
    kinds = sorted({e["kind"] for e in results_of(res)["errors"]})
    unexpected = [k for k in kinds if k not in EXPECTED_ERRORS]
    if unexpected:
        raise RuntimeError(f"devbench run recorded {', '.join(unexpected)} (exit {res.returncode}): "
                           f"{res.stderr.strip()[-300:]}")
    return f"exit {res.returncode}" + (f", recorded {', '.join(kinds)}" if kinds else "")


def fork_ms(data: dict[str, Any], scenario: str | None = None, arm: str = "unnamed") -> list[float]:
    return [
        ns / 1e6
        for s in data["samples"]
        if s["arm"] == arm and scenario in (None, s["scenario"])
        for ns in s["fork_ns"]
    ]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def figure(name: str, value: float, unit: str, goal: str, ok: bool, detail: str = "") -> str:
    line = f"{name:42} {value:10.3f} {unit:6} goal {goal:14} {'met' if ok else 'NOT MET'}"
    print(line + (f"  ({detail})" if detail else ""), flush=True)
    return line


@contextmanager
def lab_adb_device(name: str) -> Iterator[tuple[Any, Any, str]]:
    """One amd64 lab device (real adbd in a network namespace; needs root) connected to a private
    adb server: yields (server, device, the config's target line for it)."""
    from devlab import AdbServer, LabDevice, ensure_rootfs

    with AdbServer() as server, LabDevice(ensure_rootfs(), name=name) as dev:
        server.connect(dev.adb_serial)
        yield server, dev, f'{{name: lab, adb: {{connect: "{dev.adb_serial}", server_port: {server.port}}}}}'


def adb(server: Any, serial: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The adb binary itself (as a user's shell script would run it) against the private server."""
    from devbench.guest.adbserver import adb_binary

    return subprocess.run([adb_binary(), "-P", str(server.port), "-s", serial, *args], capture_output=True, text=True,
                          env=server.env, timeout=timeout)
