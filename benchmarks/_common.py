"""Shared by the benchmark scripts: timing a `devbench run` and printing a figure with its goal."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

DEVBENCH = [sys.executable, "-m", "devbench"]


def timed_run(cfg: Path, *extra: str, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    res = subprocess.run([*DEVBENCH, "run", str(cfg), "--quiet", *extra], capture_output=True, text=True, timeout=timeout)
    return time.monotonic() - start, res


def figure(name: str, value: float, unit: str, goal: str, ok: bool, detail: str = "") -> str:
    line = f"{name:42} {value:10.3f} {unit:6} goal {goal:14} {'met' if ok else 'NOT MET'}"
    print(line + (f"  ({detail})" if detail else ""), flush=True)
    return line
