"""The one small protocol every transport implements (after labgrid's CommandProtocol).

A target runs an argument list (never a string built from user or device data), streams
stdout lines to a callback, and moves files. Everything else (probing, tuning, the
benchmark) is built on these four operations, so it works the same over adb, SSH and
locally. Beside them a target says where devbench may write on the device (workdir), how it
is reached (info, for results.json) and what the run should know about it (warnings), and
it can abort the command in flight from another thread (interrupt).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

LineCallback = Callable[[str], None]


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_words(self) -> str:
        """The last non-empty stderr (or stdout) line: what a failing command said."""
        for text in (self.stderr, self.stdout):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return ""


class Target(Protocol):
    name: str
    transport: str

    @property
    def workdir(self) -> str:
        """The device folder devbench owns (its lock, journal and payload live there)."""

    @property
    def info(self) -> Mapping[str, object]:
        """How the device is reached (serial, server, place, ...): results.json's transport_info."""

    @property
    def warnings(self) -> Sequence[str]:
        """What the run should record about this transport (e.g. an emulator's timings)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        """Run argv on the device; stream stdout lines to on_line; return exit code and output."""

    def run_payload(self, argv: Sequence[str], *, timeout: float | None = None,
                    on_line: LineCallback | None = None) -> CommandResult:
        """Run the payload: as run(), unless the transport has a way of its own (QEMU detach)."""

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None: ...

    def pull(self, remote: str, local: Path) -> None: ...

    def interrupt(self) -> None:
        """Abort the command in flight (called from another thread on Ctrl-C)."""

    def close(self) -> None: ...


NO_INFO: Mapping[str, object] = MappingProxyType({})


class TargetDefaults:
    """What a transport may leave to the protocol's defaults: no warnings, the payload run as
    any command, nothing to abort from outside."""

    warnings: Sequence[str] = ()

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            on_line: LineCallback | None = None) -> CommandResult:
        raise NotImplementedError

    def run_payload(self, argv: Sequence[str], *, timeout: float | None = None,
                    on_line: LineCallback | None = None) -> CommandResult:
        return self.run(argv, timeout=timeout, on_line=on_line)

    def interrupt(self) -> None:
        """Nothing to abort: a command ends at its timeout."""


def close_quietly(target: Target | None) -> None:
    """Close a target whose connection may be dead already: nothing to report then."""
    if target is None:
        return
    try:
        target.close()
    except Exception:
        pass


def shell_line(argv: Sequence[str]) -> str:
    """One POSIX shell command line from an argument list, every word quoted."""
    return shlex.join([str(a) for a in argv])


class LineSplitter:
    """Feeds decoded text chunks in, calls back once per complete line."""

    def __init__(self, on_line: LineCallback | None):
        self.on_line = on_line
        self.buf = ""

    def feed(self, text: str) -> None:
        if self.on_line is None:
            return
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.on_line(line.rstrip("\r"))

    def close(self) -> None:
        if self.on_line is not None and self.buf:
            self.on_line(self.buf.rstrip("\r"))
        self.buf = ""


class AdbBacked(TargetDefaults):
    """A target that, once started (QEMU guest, emulator), is driven through its AdbTarget."""

    adb: Target

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None
    ) -> CommandResult:
        return self.adb.run(argv, timeout=timeout, on_line=on_line)

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None:
        self.adb.push(local, remote, mode)

    def pull(self, remote: str, local: Path) -> None:
        self.adb.pull(remote, local)

    def interrupt(self) -> None:
        self.adb.interrupt()
