"""Resume and interrupts against the real lab device.

SIGKILL of devbench mid-run, then `devbench run --resume RUN_DIR`: every batch exactly once,
the same number of samples as an uninterrupted run. SIGINT/SIGTERM/SIGHUP at random moments
over a run on the stand-in Android tree: the device is back every time and results.json is
valid, with what was measured kept."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from devbench.results.store import load
from tests.lab import runs
from tests.lab.test_device_prep import adb_line, assert_restored, config, phone  # noqa: F401  (phone: fixture)
from tests.standins import android_device as standin

pytestmark = pytest.mark.lab

FORKS, BATCHES = 300, 30


def ssh_config(tmp_path: Path, ssh) -> Path:
    cfg = tmp_path / "resume.yaml"
    cfg.write_text(f"""\
run: {{name: resume, output: {tmp_path / 'out'}}}
targets:
  - {{name: dut, ssh: {{host: {ssh.host}, port: {ssh.port}, user: {ssh.user}, key: {ssh.key}, known_hosts: {ssh.known_hosts}}}}}
benchmark:
  vmas: 2048
  forks: {FORKS}
  warmup: 1
  batches: {BATCHES}
  mode: separate
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
""")  # noqa: E501 (data, kept as it is)
    return cfg


def run_dir_of(tmp_path: Path) -> Path:
    [d] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    return d


def test_resume_after_sigkill_measures_every_batch_once(tmp_path, devbench_cmd, ssh_device):
    cfg = ssh_config(tmp_path, ssh_device)
    proc = subprocess.Popen(
        [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = [p for p in (tmp_path / "out").glob("*/results.json") if not p.parent.is_symlink()]
            if found and len(json.loads(found[0].read_text())["samples"]) >= 5:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no samples in time")
        # SIGKILL mid-run: the run must still be running (it has 60 batches; 5 were seen saved)
        assert proc.poll() is None, ("the run ended before SIGKILL", runs.stderr_tail(proc.communicate()[1]))
    finally:
        proc.kill()  # SIGKILL: no restore, no final save on the host
        proc.communicate(timeout=60)
    run_dir = run_dir_of(tmp_path)
    before = load(run_dir)
    partial = sum(len(s["fork_ns"]) for s in before["samples"])
    assert 0 < partial < 2 * FORKS and before["run"]["status"] == "running"
    res = runs.run(
        [*devbench_cmd, "run", "--resume", str(run_dir), "--quiet"], capture_output=True, text=True, timeout=600
    )
    assert "Traceback" not in res.stderr, res.stderr
    data = load(run_dir)
    keys = Counter((s["target"], s["scenario"], s["arm"], s["batch"]) for s in data["samples"])
    assert max(keys.values()) == 1  # nothing measured twice
    for sc in ("unpopulated", "1 page"):
        got = [s for s in data["samples"] if s["scenario"] == sc and s["arm"] == "unnamed"]
        assert sorted(s["batch"] for s in got) == list(range(BATCHES)) and sum(len(s["fork_ns"]) for s in got) == FORKS
    # what the killed run measured is still there, untouched
    for s in before["samples"]:
        assert s in data["samples"]
    t = data["targets"][0]
    assert any(w.startswith("resumed: ") for w in t["warnings"])
    assert any(w.startswith("removed a stale device lock") for w in t["warnings"])  # the killed run's lock
    assert len(data["run"]["resumed"]) == 1
    named_ok = not any(e["kind"] == "kernel-lacks-anon-vma-name" for e in data["errors"])
    assert res.returncode == (0 if named_ok else 1) and data["run"]["status"] == ("complete" if named_ok else "failed")
    # resuming again measures nothing more (a complete run is refused outright)
    again = runs.run(
        [*devbench_cmd, "run", "--resume", str(run_dir), "--quiet"], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == res.returncode and load(run_dir)["samples"] == data["samples"]
    assert ("the run is complete; nothing to resume" in again.stderr) == named_ok


TRIALS = 12


def test_signals_at_random_moments_always_restore(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):  # noqa: F811
    """SIGINT, SIGTERM or SIGHUP at random moments of runs that cannot end on their own within the
    test (2000 batches). Moments are drawn from states, not from a wall clock that a faster or
    slower machine shifts: the even trials at a random time from the process's start (0.05 to 3 s:
    start-up, connect, lock, prepare, or measuring), the odd ones at a random time (0 to 1 s) after
    the run was observed mid-measurement (runs.wait_mid_run). Every odd trial must end as an
    interrupted run (130); the device is restored every time."""
    target, _, before = phone
    rng = random.Random(20261125)
    outcomes = Counter()
    for trial in range(TRIALS):
        sig = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
        mid = trial % 2 == 1
        delay = rng.uniform(0.0, 1.0) if mid else rng.uniform(0.05, 3.0)
        tdir = tmp_path / f"t{trial}"
        cfg = config(tdir, adb_line(adb_server, adb_device_serial), forks=200_000, batches=2000, vmas=2048)
        proc = subprocess.Popen(
            [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            if mid:
                runs.wait_mid_run(proc, tdir / "out")
            time.sleep(delay)
            assert proc.poll() is None, (
                trial,
                "the run ended before its signal",
                runs.stderr_tail(proc.communicate()[1]),
            )
            os.kill(proc.pid, sig)
            _, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        where = "mid-measurement" if mid else "from the start"
        assert "Traceback" not in err, (trial, sig, where, delay, err)
        found = list((tdir / "out").glob("*/results.json"))
        # killed by the signal itself is an answer only while Python starts, before any run folder
        assert proc.returncode == 130 or (not mid and proc.returncode == -sig and not found), \
            (trial, sig, where, delay, proc.returncode, runs.stderr_tail(err))
        outcomes[proc.returncode] += 1
        assert_restored(target, before)
        assert standin.getprop(target, "init.svc.zygote") == "running"
        assert not target.run(["test", "-e", "/data/local/tmp/devbench/.lock"], timeout=30).ok, (trial, "lock left")
        if found:  # a signal before the run folder existed leaves nothing to check
            data = load(found[0].parent)
            assert data["run"]["status"] == "interrupted", (trial, sig, where, delay, proc.returncode, err)
            if mid:
                assert data["samples"], (trial, "what was measured before the signal is kept")
    print(f"{TRIALS} interrupts at random moments: exit codes {dict(outcomes)}; device restored every time")
    assert outcomes[130] >= TRIALS // 2  # every mid-measurement trial, and the start-up ones that had a run folder


def test_sigterm_mid_measure_says_where_and_how_to_go_on_and_a_resume_clears_it(tmp_path, devbench_cmd, ssh_device):
    """The words a reader sees: SIGTERM while measuring is "interrupted during measure" with a
    `devbench run --resume RUN_DIR` hint; after the resume completes, the table carries no
    "! interrupted" note, only a descriptive "resumed after" line."""
    cfg = ssh_config(tmp_path, ssh_device)
    proc = subprocess.Popen(
        [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = runs.signal_mid_run(proc, tmp_path / "out", signal.SIGTERM, samples=5)
    run_dir = run_dir_of(tmp_path)
    assert proc.returncode == 130, runs.stderr_tail(err)
    assert f"go on with: devbench run --resume {run_dir}" in err
    assert [e["message"] for e in load(run_dir)["errors"] if e["kind"] == "interrupted"] == [
        "interrupted during measure"]
    assert "! interrupted: interrupted during measure" in out
    res = runs.run(
        [*devbench_cmd, "run", "--resume", str(run_dir), "--quiet"], capture_output=True, text=True, timeout=600
    )
    named_ok = not any(e["kind"] == "kernel-lacks-anon-vma-name" for e in load(run_dir)["errors"])
    assert res.returncode == (0 if named_ok else 1), runs.stderr_tail(res.stderr)
    assert "! interrupted" not in res.stdout and "- resumed after: interrupted during measure" in res.stdout
    assert all(len(line) <= 80 for line in res.stdout.splitlines()), res.stdout
