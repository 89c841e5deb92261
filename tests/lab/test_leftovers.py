"""The after-each-test check (tests/lab/leftovers.py, used by conftest's nothing_left_behind)
finds what a run leaves on a real lab device and on this host, says what it is and removes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devbench.device.procid import identify
from devlab import LabDevice
from tests.lab import leftovers

pytestmark = pytest.mark.lab


def test_device_files_finds_locks_and_journals_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "data/local/tmp/devbench/.lock").mkdir(parents=True)
    (root / "data/local/tmp/devbench/.lock/owner").write_text('{"pid": 7}\n')
    (root / "tmp/devbench").mkdir(parents=True)
    (root / "tmp/devbench/restore-journal.json").write_text("{}")
    (root / "tmp/devbench/forkbench-abc").write_text("payload")  # a cached payload is fine
    (root / "tmp/a/b/c/d/e/f").mkdir(parents=True)
    (root / "tmp/a/b/c/d/e/f/restore-journal.json").write_text("{}")  # deeper than any workdir
    found = {str(item): path for item, path in leftovers.device_files(root)}
    assert found == {'lock /data/local/tmp/devbench/.lock ({"pid": 7})': root / "data/local/tmp/devbench/.lock",
                     "journal /tmp/devbench/restore-journal.json": root / "tmp/devbench/restore-journal.json"}


def test_a_lock_and_a_journal_left_on_the_device_are_named_and_removed(lab_device: LabDevice) -> None:
    root = leftovers.device_root(lab_device)
    assert root is not None
    lock = root / "data/local/tmp/devbench/.lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text(json.dumps({"host": "h", "pid": 4849, "run_id": "prep"}) + "\n")
    journal = root / "tmp/devbench/restore-journal.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text("{}")
    left = [str(x) for x in leftovers.check_device("lab_device", lab_device)]
    assert sorted(left) == [
        "journal lab_device:/tmp/devbench/restore-journal.json",
        'lock lab_device:/data/local/tmp/devbench/.lock ({"host": "h", "pid": 4849, "run_id": "prep"})',
    ]
    assert not lock.exists() and not journal.exists()
    assert leftovers.check_device("lab_device", lab_device) == []


def test_a_process_started_by_a_test_is_new_and_a_fixture_process_is_not(tmp_path: Path) -> None:
    before = leftovers.host_processes(os.getpid())
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path)])
    fixture = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ident = identify(stray.pid)
        now = leftovers.host_processes(os.getpid())
        new = leftovers.new_processes(before, now, [fixture.pid])
        assert ident in new and all(p.pid != fixture.pid for p in new)
        assert ident in leftovers.mentioning(str(tmp_path))
        assert str(tmp_path) in leftovers.describe(ident)
    finally:
        for p in (stray, fixture):
            p.kill()
            p.wait()


def test_the_check_fails_the_test_that_left_a_process_and_ends_it(tmp_path: Path) -> None:
    """nothing_left_behind in a real pytest run: the test that leaves a process errors at
    teardown naming itself and the process; the process is gone afterwards."""
    from tests.conftest import ROOT

    (tmp_path / "conftest.py").write_text("from tests.lab.conftest import nothing_left_behind  # noqa: F401\n")
    pidfile = tmp_path / "pid"
    (tmp_path / "test_leaves.py").write_text(
        "import subprocess, sys\n"
        "def test_clean():\n    assert subprocess.run([sys.executable, '-c', 'pass']).returncode == 0\n"
        "def test_leaves_a_sleeper():\n"
        f"    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"    open({str(pidfile)!r}, 'w').write(str(p.pid))\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:labgrid", "-q",
                          str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    assert "2 passed, 1 error" in out  # the call passed, its teardown check failed
    pid = int(pidfile.read_text())
    assert f"test_leaves.py::test_leaves_a_sleeper left behind (now removed): process pid {pid} (" in out
    assert identify(pid) is None
