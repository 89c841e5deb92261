"""devbench.guest.procs: processes are ended by identity (PID and start time), so a recorded PID
that now belongs to another process is left alone. Real processes, each ended by PID."""

from __future__ import annotations

import subprocess
import sys

from devlab import procs

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _start() -> subprocess.Popen[bytes]:
    return subprocess.Popen(SLEEPER, stdin=subprocess.DEVNULL)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_identity_is_pid_and_start_time():
    proc = _start()
    try:
        me = procs.identify(proc.pid)
        assert me is not None and me.pid == proc.pid and me.start > 0
        assert procs.is_running(me)
        assert not procs.is_running(procs.ProcId(proc.pid, me.start + 1))
    finally:
        _end(proc)
    assert procs.identify(proc.pid) is None and not procs.is_running(me)


def test_kill_tree_spares_a_reused_pid_and_kills_a_recorded_one():
    """A recorded PID whose start time differs (its process ended and the number was reused)
    is not signalled; one whose identity matches is killed with the tree."""
    root, recorded, bystander = _start(), _start(), _start()
    try:
        rec_id, by_id = procs.identify(recorded.pid), procs.identify(bystander.pid)
        assert rec_id and by_id
        stale = procs.ProcId(bystander.pid, by_id.start - 1)  # same number, an earlier process
        left = procs.kill_tree(root.pid, [rec_id, stale], timeout=5)
        assert left == []
        assert root.wait(timeout=5) == -9 and recorded.wait(timeout=5) == -9
        assert bystander.poll() is None and procs.is_running(by_id)
    finally:
        for p in (root, recorded, bystander):
            _end(p)


def test_kill_tree_kills_descendants():
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time\n"
                               "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                               "print(c.pid, flush=True); time.sleep(60)"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        child = int(parent.stdout.readline())
        child_id = procs.identify(child)
        assert child_id and child in procs.descendants(parent.pid)
        assert procs.kill_tree(parent.pid, timeout=5) == []
        assert parent.wait(timeout=5) == -9 and not procs.is_running(child_id)
    finally:
        _end(parent)
        parent.stdout.close()
