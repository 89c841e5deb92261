"""The order the suite runs in, and the wait before the tests that need what set-up still builds
(pure but for ``wait_for_jobs`` and ``main``, the waiter scripts/dev runs before the
fresh-machine tests; the pytest hooks are in tests/conftest.py).

``scripts/dev test`` starts pytest while the arm64 lab rootfs and the feature kernels are still
building in the background (at low priority: the suite is mostly serial, so one of two cores
would idle otherwise). The tests that need none of those run first: unit tests, then the lab's
amd64 devices, LAVA, the browser and the fresh-machine tests, then the arm64 lab, then the QEMU
tests (the kernels). A module keeps its tests together (its module-scoped fixtures are set up
once) and runs in the phase of its latest test. Within a phase, collection order is kept.

Before the first test of the arm64 phase, ``wait_for_jobs`` waits for the arm64 rootfs, before
the first QEMU test for the kernels (scripts/dev names its background jobs and the phase that
needs each in ``DEVBENCH_SETUP_JOBS``): the wait happens
outside any test, so it does not count against a test's timeout, and the terminal says what it
waits for. scripts/dev then checks how each job ended (a failed build fails the run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PHASES = ("unit", "lab", "other", "arm64", "qemu")
ARM64_FIXTURES = frozenset({"lab_rootfs_arm64", "lab_device_arm64", "adb_device_serial_arm64"})
WAIT_BEFORE = frozenset({"arm64", "qemu"})  # the phases whose first test waits for set-up's builds
EARLIEST_WAIT = "arm64"


def phase_of(markers: Iterable[str], fixtures: Iterable[str]) -> str:
    """The phase of one test, from its marker names and the fixtures it uses."""
    names = set(markers)
    if "qemu" in names:
        return "qemu"
    if ARM64_FIXTURES.intersection(fixtures):
        return "arm64"
    if names & {"lava", "browser", "fresh"}:
        return "other"
    if "lab" in names:
        return "lab"
    return "unit"


def ordered(items: Sequence[T], module_of: Callable[[T], str], phase: Callable[[T], str]) -> list[T]:
    """The items by phase (each module in the phase of its latest test), stable otherwise."""
    rank = {p: i for i, p in enumerate(PHASES)}
    module_rank: dict[str, int] = {}
    for it in items:
        m = module_of(it)
        module_rank[m] = max(module_rank.get(m, 0), rank[phase(it)])
    return sorted(items, key=lambda it: module_rank[module_of(it)])  # sorted() is stable


@dataclass(frozen=True)
class Job:
    """One of set-up's background jobs: its PID, the first phase that needs it, what it builds."""

    pid: int
    needed_by: str
    what: str


def parse_jobs(value: str) -> list[Job]:
    """``DEVBENCH_SETUP_JOBS`` as scripts/dev sets it: ``PID=PHASE=what`` items separated by ``;``
    (PHASE one of the waiting phases; an unknown or missing one means the earliest)."""
    jobs = []
    for item in filter(None, (v.strip() for v in value.split(";"))):
        pid, _, rest = item.partition("=")
        if not pid.isdigit():
            continue
        phase, _, what = rest.partition("=")
        if phase not in WAIT_BEFORE:
            phase, what = EARLIEST_WAIT, rest
        jobs.append(Job(int(pid), phase, what or f"pid {pid}"))
    return jobs


def needed_before(jobs: Sequence[Job], phase: str) -> list[Job]:
    """The jobs that must have ended before the first test of ``phase``."""
    if phase not in PHASES:
        return []
    return [j for j in jobs if PHASES.index(j.needed_by) <= PHASES.index(phase)]


def running(pid: int, proc: Path = Path("/proc")) -> bool:
    """The process exists and has not exited (an exited child not yet reaped is a zombie, Z)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def wait_for_jobs(jobs: Sequence[Job], say: Callable[[str], None],
                  poll: float = 2.0, proc: Path = Path("/proc")) -> float:
    """Wait until none of these background jobs runs; return the seconds waited."""
    start = time.monotonic()
    for job in jobs:
        if running(job.pid, proc):
            say(f"waiting for set-up's background job: {job.what} (pid {job.pid})")
        while running(job.pid, proc):
            time.sleep(poll)
    return time.monotonic() - start


def main(argv: Sequence[str]) -> int:
    """``python -m tests.ordering wait JOBS``: wait until none of the jobs (``DEVBENCH_SETUP_JOBS``'s
    form) runs, saying what it waits for; scripts/dev starts the fresh-machine tests after it."""
    if len(argv) != 2 or argv[0] != "wait":
        print("usage: python -m tests.ordering wait 'PID=PHASE=what;...'", file=sys.stderr)
        return 2
    wait_for_jobs(parse_jobs(argv[1]), lambda line: print(line, flush=True), poll=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
