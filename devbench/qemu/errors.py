"""Errors of the QEMU guest support."""

from __future__ import annotations

import re
from collections.abc import Sequence

from devbench.errors import DevbenchError, TargetError

_PANIC = "Kernel panic"
_FAILED = "DEVBENCH-GUEST-FAILED"
_NOISE = re.compile(r"^[\s\-=\[\]\.\d:]*$")  # blank, or timestamps / rulers only


class QemuError(DevbenchError):
    """A QEMU step other than the boot itself failed (``step``: "image", "stop", "kvm", ...)."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"qemu {step}: {detail}")


def meaningful_line(lines: Sequence[str], limit: int = 200) -> str:
    """The console line that says most about a failed boot: the last panic or
    DEVBENCH-GUEST-FAILED line, else the last line that is not blank or noise."""
    chosen = ""
    for marker in (_FAILED, _PANIC):
        for line in reversed(lines):
            if marker in line:
                chosen = line[line.index(marker):]  # drop a timestamp or output glued before it
                break
        if chosen:
            break
    if not chosen:
        for line in reversed(lines):
            if not _NOISE.match(line):
                chosen = line
                break
    chosen = " ".join(chosen.split())
    return chosen if len(chosen) <= limit else chosen[: limit - 3] + "..."


class BootError(TargetError):
    """A guest did not boot. ``str()`` is one line:

    ``<name>: boot: <reason> after N attempt(s); console: <last meaningful console line>``

    ``reason`` is ``message`` flattened to one line, ``console_tail`` the last console lines
    (about 20) of the last attempt, ``attempts`` how many times QEMU was started.
    """

    def __init__(self, message: str, console_tail: Sequence[str] = (), attempts: int = 1, *,
                 name: str = "qemu", console_log: str | None = None) -> None:
        self.reason = " ".join(str(message).split())
        self.console_tail = list(console_tail)
        self.attempts = attempts
        self.console_line = meaningful_line(self.console_tail)
        self.console_log = console_log
        plural = "attempt" if attempts == 1 else "attempts"
        text = f"{self.reason} after {attempts} {plural}; console: {self.console_line or '(empty)'}"
        super().__init__(name, "boot", text, stdout="\n".join(self.console_tail))
