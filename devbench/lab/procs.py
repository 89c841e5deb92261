"""Process-tree helpers: find descendants through /proc and end them by PID (never by name)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _ppid_map() -> dict[int, int]:
    """pid -> ppid of every process visible in /proc."""
    out: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # comm (field 2) may contain spaces and parentheses: split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
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


def alive(pid: int) -> bool:
    """True if a process (not a zombie) with this PID exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_tree(pid: int, extra: list[int] | tuple[int, ...] = (), timeout: float = 5.0) -> list[int]:
    """SIGKILL ``pid``, all its descendants and the recorded ``extra`` PIDs; wait until gone.

    Returns the PIDs that are still alive after ``timeout`` (empty on success). Zombies
    that are children of this process must be reaped by the caller (Popen.wait).
    """
    deadline = time.monotonic() + timeout
    targets = set(extra)
    while True:
        targets.update(tree(pid))
        for p in list(targets):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                pass
        left = sorted(p for p in targets if alive(p))
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
