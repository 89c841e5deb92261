"""The guest's serial console: its lines without terminal control codes, and what they say about
the boot (ready, a kernel panic, the init's failure)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from .image import FAILED_MARKER, READY_MARKER

_TAIL_LINES = 20

_CTRL = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[^\[])|[\x00-\x08\x0b-\x1f\x7f]")  # CSI, ESC x, C0


def console_lines(text: str) -> list[str]:
    """Console text as clean lines (CR, escape sequences and control bytes removed)."""
    text = text.replace("\x1bc", "\n")  # ESC c (terminal reset, SeaBIOS sends it) starts a new screen
    return [_CTRL.sub("", line).rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def classify_console(text: str) -> Literal["ready", "panic", "failed"] | None:
    """What the console says so far: "failed" (the guest init gave up), "panic" (kernel
    panic), "ready" (the init printed the ready line), or None (still booting). A failure
    seen anywhere wins over readiness."""
    lines = console_lines(text)
    if any(line.lstrip().startswith(FAILED_MARKER) or f" {FAILED_MARKER}:" in line for line in lines):
        return "failed"
    if any("Kernel panic" in line for line in lines):
        return "panic"
    if any(line.strip() == READY_MARKER or line.strip().endswith("] " + READY_MARKER) for line in lines):
        return "ready"
    return None


def console_tail(text: str, n: int = _TAIL_LINES) -> list[str]:
    return [line for line in console_lines(text) if line.strip()][-n:]


def _read_from(path: Path | None, pos: int) -> tuple[str, int]:
    if path is None:
        return "", pos
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except OSError:
        return "", pos
    return data.decode("utf-8", errors="replace"), pos + len(data)
