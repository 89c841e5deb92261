"""Process-tree helpers: find descendants through /proc and end them by identity (PID and start
time, devbench.device.procid), never by name."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from devbench.device.procid import ProcId, alive, identify, is_running
from devbench.device.procid import stat_fields as _stat_fields

__all__ = ["ProcId", "alive", "descendants", "identify", "is_running", "kill_tree", "socket_families", "tree"]


def _ppid_map() -> dict[int, int]:
    """pid -> ppid of every process visible in /proc."""
    out: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        fields = _stat_fields(int(d.name))
        if fields is not None:
            out[int(d.name)] = int(fields[1])
    return out


def descendants(pid: int) -> list[int]:
    """All descendants of ``pid`` (not ``pid`` itself), parents before children."""
    children: dict[int, list[int]] = {}
    for p, pp in _ppid_map().items():
        children.setdefault(pp, []).append(p)
    out: list[int] = []
    todo = [pid]
    while todo:
        cur = todo.pop(0)
        for c in sorted(children.get(cur, ())):
            out.append(c)
            todo.append(c)
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (only the living ones)."""
    return ([pid] if alive(pid) else []) + descendants(pid)


def kill_tree(pid: int, extra: Iterable[ProcId] = (), timeout: float = 5.0) -> list[int]:
    """SIGKILL ``pid``, all its descendants and the recorded ``extra`` processes; wait until gone.

    Every process is signalled by identity (PID and start time), so a recorded PID that has
    since been reused by another process is left alone. Returns the PIDs that are still
    alive after ``timeout`` (empty on success). Zombies that are children of this process
    must be reaped by the caller (Popen.wait).
    """
    deadline = time.monotonic() + timeout
    targets = {p for p in extra if is_running(p)}
    while True:
        targets.update(p for p in map(identify, tree(pid)) if p is not None)
        for p in list(targets):
            if not is_running(p):
                targets.discard(p)
                continue
            try:
                os.kill(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        left = sorted(p.pid for p in targets if is_running(p))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def socket_families(pid: int) -> list[int]:
    """Address families (AF_*) of the sockets that process ``pid`` holds open.

    Duplicates each socket fd with pidfd_getfd(2) (Linux >= 5.6, needs ptrace rights) and
    asks the kernel for SO_DOMAIN. Returns [] if the process is gone.
    """
    import ctypes
    import socket

    libc = ctypes.CDLL(None, use_errno=True)
    nr_pidfd_open, nr_pidfd_getfd = 434, 438  # same numbers on x86_64 and arm64
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    pidfd = libc.syscall(nr_pidfd_open, pid, 0)
    if pidfd < 0:
        return []
    out: list[int] = []
    try:
        for name in names:
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(nr_pidfd_getfd, pidfd, int(name), 0)
            if fd < 0:
                continue
            s = socket.socket(fileno=fd)
            try:
                out.append(int(s.family))
            finally:
                s.close()
    finally:
        os.close(pidfd)
    return out
