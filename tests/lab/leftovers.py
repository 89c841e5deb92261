"""What a lab test left behind: device locks, restore journals and payload processes on the
shared lab devices, and processes on this host (tests/lab/conftest.py checks after each test).

A device's files are read from the host through /proc/PID/root of one of its processes (its
chroot in its own mount namespace), so the check needs no transport and cannot itself leave
anything. Locks are devbench's `WORKDIR/.lock` directories (devbench.device.lock) and
journals its `WORKDIR/restore-journal.json` (devbench.device.journal.FILE_NAME), looked for
below /data/local/tmp and /tmp, where the adb and SSH workdirs are (the tests' own workdirs
included).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devbench.device.journal import FILE_NAME
from devbench.device.procid import ProcId, identify
from devlab import LabDevice, procs

SEARCH_ROOTS = ("data/local/tmp", "tmp")
MAX_DEPTH = 4  # /tmp/devbench/.lock is depth 2; a test's nested workdir a little deeper
PAYLOAD_PREFIX = "forkbench"


@dataclass(frozen=True)
class Leftover:
    what: str  # "lock", "journal", "device process", "process"
    where: str  # device path, or "pid N"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.what} {self.where}" + (f" ({self.detail})" if self.detail else "")


def device_root(dev: LabDevice) -> Path | None:
    """The device's file system as its own processes see it, or None if none of them is alive."""
    for pid in dev.pids:
        root = Path(f"/proc/{pid}/root")
        try:
            if (root / "sbin" / "devbench-init").exists():
                return root
        except OSError:
            continue
    return None


def device_files(root: Path) -> list[tuple[Leftover, Path]]:
    """devbench locks and journals below the search roots of a device's file system."""
    found: list[tuple[Leftover, Path]] = []
    for top in SEARCH_ROOTS:
        base = root / top
        for dirpath, dirnames, filenames in os.walk(base):
            depth = len(Path(dirpath).relative_to(base).parts)
            rel = "/" + str(Path(dirpath).relative_to(root))
            if ".lock" in dirnames:
                owner = Path(dirpath) / ".lock" / "owner"
                try:
                    text = owner.read_text(errors="replace").strip()
                except OSError:
                    text = "no owner file"
                found.append((Leftover("lock", f"{rel}/.lock", text), Path(dirpath) / ".lock"))
            if FILE_NAME in filenames:
                found.append((Leftover("journal", f"{rel}/{FILE_NAME}"), Path(dirpath) / FILE_NAME))
            dirnames[:] = [d for d in dirnames if d != ".lock" and depth < MAX_DEPTH
                           and not os.path.islink(os.path.join(dirpath, d))]
    return found


def device_payloads(dev: LabDevice) -> list[tuple[Leftover, ProcId]]:
    """Payload processes (forkbench-*) still running on the device."""
    out: list[tuple[Leftover, ProcId]] = []
    roots = [p for p in dev.pids if procs.alive(p)][:1]
    for pid in (d for r in roots for d in procs.descendants(r)):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        ident = identify(pid)
        if comm.startswith(PAYLOAD_PREFIX) and ident is not None:
            out.append((Leftover("device process", f"pid {pid}", comm), ident))
    return out


def check_device(name: str, dev: LabDevice) -> list[Leftover]:
    """Find, report and remove what runs left on one lab device."""
    root = device_root(dev)
    if root is None:
        return []
    left: list[Leftover] = []
    for item, path in device_files(root):
        left.append(Leftover(item.what, f"{name}:{item.where}", item.detail))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for item, ident in device_payloads(dev):
        left.append(Leftover(item.what, f"{name}:{item.where}", item.detail))
        procs.kill_tree(ident.pid, [ident])
    return left


# -- host processes ---------------------------------------------------------------------------

def host_processes(me: int) -> set[ProcId]:
    """This process's descendants, by identity."""
    return {p for p in map(identify, procs.descendants(me)) if p is not None}


def mentioning(needle: str) -> set[ProcId]:
    """Live processes (any parent) whose command line mentions ``needle`` (a test's tmp_path)."""
    out: set[ProcId] = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if needle.encode() in cmd and int(name) != os.getpid():
            ident = identify(int(name))
            if ident is not None:
                out.add(ident)
    return out


def new_processes(before: set[ProcId], now: Iterable[ProcId], fixture_roots: Iterable[int]) -> set[ProcId]:
    """Processes in ``now`` that were not in ``before`` and are not in a lab fixture's tree."""
    spared: set[int] = set()
    for root in fixture_roots:
        spared.update(procs.tree(root))
    return {p for p in now if p not in before and p.pid not in spared}


def describe(proc: ProcId) -> str:
    try:
        cmd = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    return cmd[:200]
