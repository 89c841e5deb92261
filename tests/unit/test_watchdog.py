"""devbench.watchdog: a set-up step fails when it stops making progress, never after a total time."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from devbench.watchdog import Progress, StallError, run_watched, session_cpu_ticks


def test_progress_is_a_change_of_the_sample():
    p = Progress(stall=10)
    assert not p.feed((1, 100), 0.0)
    assert not p.feed((1, 100), 9.9)  # quiet, not yet stalled
    assert not p.feed((2, 100), 10.5)  # output grew: progress
    assert not p.feed((2, 101), 19.0)  # CPU time grew: progress
    assert p.quiet_for(25.0) == 6.0
    assert p.feed((2, 101), 29.0)  # 10 s with neither
    assert p.quiet_for(29.0) == 10.0


def test_session_cpu_ticks_reads_the_session_of_the_given_id(tmp_path):
    proc = tmp_path / "proc"
    for pid, sid, ticks in (("10", 7, (1, 2, 3, 4)), ("11", 7, (10, 0, 0, 0)), ("12", 8, (100, 100, 0, 0))):
        (proc / pid).mkdir(parents=True)
        rest = ["S", "1", "7", str(sid), "0", "-1", "0", "0", "0", "0", "0", *map(str, ticks), "20", "0"]
        (proc / pid / "stat").write_text(f"{pid} (a b) c) " + " ".join(rest) + "\n")  # a comm with spaces and ')'
    (proc / "self").mkdir()
    assert session_cpu_ticks(7, proc) == 1 + 2 + 3 + 4 + 10
    assert session_cpu_ticks(8, proc) == 200
    assert session_cpu_ticks(9, proc) == 0


def test_a_slow_step_that_keeps_working_is_not_ended(tmp_path):
    """8 s of silent CPU work with a 3 s stall limit: progress through CPU time alone."""
    log = tmp_path / "log"
    code = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 8: pass\nprint('done')"
    rc = run_watched([sys.executable, "-c", code], log, stall=3, poll=0.5)
    assert rc == 0
    assert log.read_text().splitlines()[-1] == "done"


def test_a_step_that_keeps_printing_is_not_ended(tmp_path):
    log = tmp_path / "log"
    code = "import time\nfor i in range(8):\n    print(i, flush=True); time.sleep(0.8)"
    assert run_watched([sys.executable, "-c", code], log, stall=3, poll=0.5) == 0
    assert "7" in log.read_text()


def test_a_hung_step_is_ended_with_its_children(tmp_path):
    """No output and no CPU time (a sleeping child as well): ended after the stall, children too."""
    log = tmp_path / "log"
    pidfile = tmp_path / "child"
    code = ("import subprocess, sys, time\n"
            f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
            f"open({str(pidfile)!r}, 'w').write(str(c.pid))\n"
            "print('started', flush=True)\ntime.sleep(300)")
    t0 = time.monotonic()
    with pytest.raises(StallError) as err:
        run_watched([sys.executable, "-c", code], log, stall=3, poll=0.5)
    took = time.monotonic() - t0
    assert 3 <= took < 30, took
    assert err.value.quiet >= 3
    assert "no output and no CPU time for" in str(err.value)
    assert "ended by devbench's watchdog" in log.read_text()
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        try:
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split(") ")[1].startswith("Z"), "the hung step's child outlived it"


def test_an_exit_code_is_returned(tmp_path):
    assert run_watched([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log", stall=5, poll=0.5) == 3
