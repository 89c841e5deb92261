"""Process identity: a PID and its start time, read from /proc (Linux).

A PID alone does not name a process: once a process has ended, its number may be given to
another one. The start time (clock ticks after boot, field 22 of /proc/PID/stat) tells them
apart, and the boot id tells two boots apart. Used by the device lock and the restore journal
(is the devbench run that left them alive?) and by the lab (which processes to end).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcId:
    """One process, not just its number: a PID and its start time (clock ticks after boot)."""

    pid: int
    start: int


def stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ")".
    return stat.rsplit(")", 1)[1].split()


def identify(pid: int) -> ProcId | None:
    """The identity of the living process ``pid`` now, or None if there is none (or a zombie)."""
    fields = stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return ProcId(pid, int(fields[19]))


def is_running(proc: ProcId) -> bool:
    """True if this very process (same PID and start time) is alive and not a zombie."""
    return identify(proc.pid) == proc


def alive(pid: int) -> bool:
    """True if a process (not a zombie) with this PID exists, whichever process it is."""
    return identify(pid) is not None


def boot_id() -> str:
    """This boot's id (/proc/sys/kernel/random/boot_id), or "" where unreadable."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Owner:
    """A process as recorded in a file another process reads later (device lock, journal).

    ``start`` and ``boot`` are None in records written before devbench kept them."""

    pid: int
    start: int | None = None
    boot: str | None = None

    @classmethod
    def me(cls) -> Owner:
        ident = identify(os.getpid())
        return cls(os.getpid(), ident.start if ident else None, boot_id() or None)

    def fields(self) -> dict[str, object]:
        """The JSON fields of a record: pid, pid_start, boot_id."""
        return {"pid": self.pid, "pid_start": self.start, "boot_id": self.boot}

    def alive(self) -> bool:
        """Is the recorded process still running on this host (the caller checks the host name)?

        A record from another boot is dead. A record with a start time is alive only if the
        PID's process now has that very start time: a PID reused by another process (any
        process from a folder named `devbench` included) is not the recorded run.

        A record WITHOUT a start time (written by an older devbench) cannot be told from a
        reused PID, so it is taken conservatively as alive whenever any process holds that PID:
        a live run's lock or journal is then never taken over, at worst an old dead one is
        refused until `devbench restore` removes it (the refusal says so).
        """
        if self.boot and boot_id() and self.boot != boot_id():
            return False
        if self.start is None:
            return alive(self.pid)
        return is_running(ProcId(self.pid, self.start))


def owner_from(data: dict[str, object]) -> Owner | None:
    """The Owner of a record's pid/pid_start/boot_id fields, or None if it has no usable pid."""
    pid, start, boot = data.get("pid"), data.get("pid_start"), data.get("boot_id")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    start = start if isinstance(start, int) and not isinstance(start, bool) and start >= 0 else None
    return Owner(pid, start, boot if isinstance(boot, str) and boot else None)
