"""A devbench run's liveness is its PID, process start time and boot id (devbench.device.procid), never
a word in a command line: checked with real processes, from a folder named `devbench`, through
the device lock and the restore journal on this machine (LocalTarget)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devbench.config import LocalOptions
from devbench.device import lock
from devbench.device.journal import Journal, decode
from devbench.device.procid import Owner, ProcId, boot_id, identify, is_running, owner_from
from devbench.device.restore import journal_path, recover
from devbench.errors import TargetError
from devbench.targets.local import LocalTarget


@pytest.fixture
def decoy(tmp_path: Path) -> Iterator[ProcId]:
    """A live process started from a folder named `devbench`, with "devbench" all over its
    command line: what the old name-based check took for a devbench run."""
    folder = tmp_path / "devbench"
    folder.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "devbench", "run", str(folder)], cwd=folder
    )
    try:
        deadline = time.monotonic() + 10
        while b"devbench" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():  # empty until its exec
            assert time.monotonic() < deadline, "the decoy never started"
            time.sleep(0.01)
        ident = identify(proc.pid)
        assert ident is not None
        yield ident
    finally:
        proc.kill()
        proc.wait()


def test_identity_is_pid_and_start_time(decoy: ProcId) -> None:
    assert is_running(decoy)
    assert not is_running(ProcId(decoy.pid, decoy.start + 1))
    me = Owner.me()
    assert me.pid == os.getpid() and identify(os.getpid()) == ProcId(me.pid, me.start or -1)


def test_ended_process_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ident = identify(proc.pid)
    proc.wait()
    assert identify(proc.pid) is None
    assert ident is None or not Owner(ident.pid, ident.start).alive()
    assert not Owner(proc.pid).alive()  # no start time recorded, and no process has that PID


def test_owner_alive_by_start_time_not_by_name(decoy: ProcId) -> None:
    assert Owner(decoy.pid, decoy.start, boot_id()).alive()
    assert not Owner(decoy.pid, decoy.start - 1, boot_id()).alive()  # same PID, another process
    assert not Owner(decoy.pid, decoy.start, "another-boot").alive()


def test_record_without_start_time_is_alive_while_its_pid_is(decoy: ProcId) -> None:
    """The conservative reading of an old lock or journal (no pid_start)."""
    assert Owner(decoy.pid).alive()


@pytest.mark.parametrize("data,expect", [
    ({"pid": 12, "pid_start": 34, "boot_id": "b"}, Owner(12, 34, "b")),
    ({"pid": 12}, Owner(12)),
    ({"pid": 12, "pid_start": "34", "boot_id": ""}, Owner(12)),  # unusable start: as if missing
    ({"pid": 12, "pid_start": True}, Owner(12)),
    ({"pid": "12"}, None),
    ({"pid": 0}, None),
    ({}, None),
])
def test_owner_from_record(data: dict[str, object], expect: Owner | None) -> None:
    assert owner_from(data) == expect


def test_owner_fields_round_trip() -> None:
    me = Owner.me()
    assert me.start is not None and me.boot == (boot_id() or None)
    assert owner_from(json.loads(json.dumps(me.fields()))) == me


# -- the device lock ------------------------------------------------------------------------

@pytest.fixture
def local(tmp_path: Path) -> LocalTarget:
    workdir = tmp_path / "devbench" / "work"
    workdir.mkdir(parents=True)
    return LocalTarget("here", LocalOptions(workdir=str(workdir)))


def plant_lock(target: LocalTarget, owner: dict[str, object]) -> Path:
    path = Path(target.workdir) / ".lock"
    path.mkdir()
    (path / "owner").write_text(json.dumps({"host": socket.gethostname(), "run_id": "old", **owner}) + "\n")
    return path


def test_lock_records_start_time_and_boot(local: LocalTarget) -> None:
    got = lock.acquire(local, local.workdir, "r1", warn=pytest.fail)
    owner = json.loads((Path(local.workdir) / ".lock" / "owner").read_text())
    assert owner_from(owner) == Owner.me() and owner["run_id"] == "r1"
    got.release()
    assert not (Path(local.workdir) / ".lock").exists()


def test_lock_of_a_reused_pid_is_taken_over(local: LocalTarget, decoy: ProcId) -> None:
    plant_lock(local, Owner(decoy.pid, decoy.start - 1, boot_id()).fields())
    warnings: list[str] = []
    got = lock.acquire(local, local.workdir, "r2", warn=warnings.append)
    assert [
        w for w in warnings if "removed a stale device lock" in w and f"pid {decoy.pid}" in w
    ] == warnings and warnings
    assert json.loads((Path(local.workdir) / ".lock" / "owner").read_text())["run_id"] == "r2"
    got.release()


@pytest.mark.parametrize("recorded", ["same start", "no start (old lock)"])
def test_lock_of_a_live_run_is_refused(local: LocalTarget, decoy: ProcId, recorded: str) -> None:
    plant_lock(
        local, Owner(decoy.pid, decoy.start, boot_id()).fields() if recorded == "same start" else {"pid": decoy.pid}
    )
    with pytest.raises(TargetError, match=f"in use by devbench pid {decoy.pid}"):
        lock.acquire(local, local.workdir, "r3", warn=pytest.fail)
    assert json.loads((Path(local.workdir) / ".lock" / "owner").read_text())["run_id"] == "old"


# -- the restore journal --------------------------------------------------------------------

def plant_journal(target: LocalTarget, owner: Owner) -> Path:
    j = Journal("old-run", socket.gethostname(), owner.pid, "2026-01-01T00:00:00+00:00", "/sys", "/proc",
                pid_start=owner.start, boot_id=owner.boot)
    path = Path(journal_path(target.workdir))
    path.write_text(j.encode())
    return path


def test_journal_round_trips_the_owner(decoy: ProcId) -> None:
    j = Journal("r", "h", decoy.pid, "t", "/sys", "/proc", pid_start=decoy.start, boot_id="b")
    assert decode(j.encode(), "x").owner == Owner(decoy.pid, decoy.start, "b")
    old = json.loads(j.encode())
    del old["pid_start"], old["boot_id"]
    assert decode(json.dumps(old), "x").owner == Owner(decoy.pid)  # a journal from before: still read


def test_journal_of_a_reused_pid_is_undone(local: LocalTarget, decoy: ProcId) -> None:
    path = plant_journal(local, Owner(decoy.pid, decoy.start + 1, boot_id()))
    done = recover(local, local.workdir)
    assert done.journal is not None and done.journal.run_id == "old-run" and not done.errors
    assert not path.exists()


def test_journal_of_a_live_run_is_refused(local: LocalTarget, decoy: ProcId) -> None:
    path = plant_journal(local, Owner(decoy.pid, decoy.start, boot_id()))
    with pytest.raises(TargetError, match=f"in use by devbench pid {decoy.pid}"):
        recover(local, local.workdir)
    assert path.exists()
