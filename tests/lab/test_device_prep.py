"""Device preparation against a STAND-IN Android tree inside the real lab device.

The tree (tests/standins/android_device.py) is a phone-shaped sysfs/procfs laid out in the
lab device, with stand-in getprop/setprop/stop/start; devbench reaches it only through the
real adb (or SSH) transport. Every test asserts on the device's state afterwards: the tree's
files and the stand-in properties, never on the commands sent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab import lines, runs
from tests.standins import android_device as standin

pytestmark = pytest.mark.lab

TREE = "/data/local/tmp/standin-tree"
BIN = "/usr/local/bin"
ADB_WORKDIR = "/data/local/tmp/devbench"


@pytest.fixture
def phone(adb_target):
    """The stand-in Android tree and commands, installed in the lab device for one test."""
    files = standin.tree_files()
    standin.lay_out(adb_target, TREE, files)
    standin.install(adb_target, BIN)
    adb_target.run(
        ["rm", "-f", f"{ADB_WORKDIR}/restore-journal.json", "/tmp/devbench/restore-journal.json"], timeout=30
    )
    before = standin.read_tree(adb_target, TREE)
    yield adb_target, files, before
    standin.uninstall(adb_target, BIN)
    adb_target.run(
        ["rm", "-rf", TREE, f"{ADB_WORKDIR}/restore-journal.json", "/tmp/devbench/restore-journal.json"], timeout=30
    )


def config(
    tmp_path: Path,
    target_line: str,
    *,
    forks: int = 40,
    batches: int = 4,
    vmas: int = 512,
    device_extra: str = "",
    scenarios: str = "    - {name: unpopulated, pages: 0}\n    - {name: 1 page, pages: 1}\n",
) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "prep.yaml"
    cfg.write_text(f"""\
run: {{name: prep, output: {tmp_path / 'out'}}}
targets:
  - {target_line}
device:
  stop_framework: true
  cpufreq: {{governor: performance, khz: 1800000, cpus: [0, 4]}}
  pin: [0, 1]
  sysfs: {TREE}/sys
  procfs: {TREE}/proc
{device_extra}benchmark:
  vmas: {vmas}
  forks: {forks}
  warmup: 1
  batches: {batches}
  scenarios:
{scenarios}""")
    return cfg


def adb_line(adb_server, serial: str) -> str:
    return lines.adb_line("phone", serial, adb_server.port)


def results(tmp_path: Path, res=None) -> dict:
    """The run's results.json; RunFailed with its errors and devbench's stderr if there is none."""
    return runs.results(tmp_path / "out", res)


def assert_restored(target, before: dict[str, str]) -> None:
    """Every file of the tree as it was, the framework running and booted, no journal left."""
    assert standin.read_tree(target, TREE) == before
    assert standin.getprop(target, "init.svc.zygote") == "running"
    assert standin.getprop(target, "sys.boot_completed") == "1"
    for workdir in (ADB_WORKDIR, "/tmp/devbench"):
        assert not target.run(["test", "-e", f"{workdir}/restore-journal.json"], timeout=30).ok


@pytest.mark.parametrize("transport", ["adb", "ssh"])
def test_run_locks_records_and_restores(
    tmp_path, devbench_cmd, adb_server, adb_device_serial, ssh_device, phone, transport
):
    target, files, before = phone
    line = adb_line(adb_server, adb_device_serial) if transport == "adb" else lines.ssh_line("phone", ssh_device)
    res = runs.run(
        [*devbench_cmd, "run", str(config(tmp_path, line)), "--quiet"], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in res.stderr, res.stderr
    data = results(tmp_path, res)
    t = runs.target(data, "phone", res)
    assert t["facts"]["android"] is True and [p["name"] for p in t["facts"]["cpufreq"]] == ["policy0", "policy4"]
    assert t["facts"]["battery_pct"] == 80 and t["facts"]["thermal"][0]["trips"][0]["type"] == "passive"
    assert t["device"]["locked_khz"] == {"policy0": 1804800, "policy4": 2016000}  # nearest available to 1800000
    assert t["device"]["pinned"] == [0, 1]
    changes = {c["setting"]: c for c in t["device_changes"]}
    assert changes["android framework"]["before"] == "running" and changes["android framework"]["after"] == "stopped"
    assert changes["cpu1 online"]["before"] == "0" and changes["cpu1 online"]["after"] == "1"
    assert (
        changes["policy0 scaling_governor"]["before"] == "schedutil"
        and changes["policy0 scaling_governor"]["after"] == "performance"
    )
    assert changes["policy4 scaling_min_freq/scaling_max_freq"]["before"] == "710400 2841600"
    assert changes["policy4 scaling_min_freq/scaling_max_freq"]["after"] == "2016000 2016000"
    assert changes["vm.max_map_count"]["before"] == "1000" and changes["vm.max_map_count"]["after"] == str(512 + 1024)
    assert all(c["verified"] and c["restored"] for c in t["device_changes"]), t["device_changes"]
    assert all(c["restored_value"] == c["before"] for c in t["device_changes"])
    # the tree's scaling_cur_freq never moves (it is a file): read during the run, below the lock
    assert any(
        "thermal throttling seen: policy0 ran at 576000 kHz, below its locked 1804800 kHz" in w for w in t["warnings"]
    )
    assert len(t["conditions"]) == 3 and t["conditions"][0]["freq_khz"] == {"policy0": 576000, "policy4": 1440000}
    samples = [x for s in data["samples"] if s["arm"] == "unnamed" for x in s["fork_ns"]]
    assert len(samples) == 2 * 40
    assert_restored(target, before)
    [report] = re.findall(r"^devbench: report (\S+report\.html)$", res.stderr, re.M)  # the one report line
    html = Path(report).read_text()
    assert "policy0 scaling_governor" in html and "stand-in &lt;b&gt;phone&lt;/b&gt;" in html


def test_exception_in_the_middle_restores(tmp_path, adb_server, adb_device_serial, phone):
    """A bug in the host's own code mid-run (here: the progress display raises)."""
    from devbench.config import load_config
    from devbench.run.runner import NoProgress, execute, start_run

    class Boom(NoProgress):
        def batch(self, target, scenario, arm, forks):
            raise RuntimeError("display exploded")

    target, _, before = phone
    cfg = load_config(config(tmp_path, adb_line(adb_server, adb_device_serial)))
    run_dir, store = start_run(cfg)
    with pytest.raises(RuntimeError, match="display exploded"):
        execute(cfg, store, Boom())
    assert_restored(target, before)
    data = json.loads((run_dir / "results.json").read_text())
    assert data["run"]["status"] == "interrupted"
    assert all(c["restored"] for c in data["targets"][0]["device_changes"])


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_long_run(tmp_path, devbench_cmd, adb_server, serial):
    """A run that cannot end on its own within the test (4000 batches of 100 forks: minutes even
    on a fast machine); returns it once it is observed mid-measurement (runs.wait_mid_run)."""
    cfg = config(tmp_path, adb_line(adb_server, serial), forks=400_000, batches=4000, vmas=4096)
    proc = subprocess.Popen(
        [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        runs.wait_mid_run(proc, tmp_path / "out")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return cfg, proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_restores(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone, sig):
    target, _, before = phone
    _, proc = start_long_run(tmp_path, devbench_cmd, adb_server, adb_device_serial)
    assert standin.getprop(target, "init.svc.zygote") == "stopped"  # prepared while it runs
    assert standin.read_tree(target, TREE)["sys/devices/system/cpu/cpufreq/policy0/scaling_governor"] == "performance"
    assert proc.poll() is None, "the run ended before the signal (it was observed mid-measurement just before)"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (
        f"signal {sig!r} sent mid-measurement; exit {proc.returncode}:\n{runs.stderr_tail(err)}"
    )
    assert "Traceback" not in err
    assert_restored(target, before)
    data = results(tmp_path)
    assert data["run"]["status"] == "interrupted" and data["samples"]
    assert all(c["restored"] for c in data["targets"][0]["device_changes"])


@pytest.mark.parametrize("undo", ["devbench restore", "next run"])
def test_sigkilled_run_is_undone_from_the_journal(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone, undo):
    target, _, before = phone
    cfg, proc = start_long_run(tmp_path, devbench_cmd, adb_server, adb_device_serial)
    proc.kill()  # SIGKILL: no finally block runs on the host
    proc.communicate(timeout=60)
    left = standin.read_tree(target, TREE)
    assert left["sys/devices/system/cpu/cpufreq/policy4/scaling_min_freq"] == "2016000"
    assert standin.getprop(target, "init.svc.zygote") == "stopped"
    journal = json.loads(target.run(["cat", f"{ADB_WORKDIR}/restore-journal.json"], timeout=30).stdout)
    assert journal["pid"] == proc.pid and len(journal["entries"]) >= 5
    if undo == "devbench restore":
        res = runs.run([*devbench_cmd, "restore", str(cfg)], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert f"undid run {journal['run_id']}" in res.stdout and "restored" in res.stdout
        assert_restored(target, before)
        again = runs.run([*devbench_cmd, "restore", str(cfg)], capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "nothing to undo" in again.stdout
    else:
        small = config(tmp_path / "next", adb_line(adb_server, adb_device_serial))
        res = runs.run([*devbench_cmd, "run", str(small), "--quiet"], capture_output=True, text=True, timeout=300)
        assert "Traceback" not in res.stderr
        data = results(tmp_path / "next")
        [t] = data["targets"]
        assert any(
            w.startswith("a previous run had left the device changed: undid run " + journal["run_id"])
            for w in t["warnings"]
        )
        # the new run's "before" is the device as it was before the killed run, and it is back so again
        assert {c["setting"]: c["before"] for c in t["device_changes"]}["policy0 scaling_governor"] == "schedutil"
        assert_restored(target, before)


def test_scenario_that_cannot_fit_is_refused_before_any_change(
    tmp_path, devbench_cmd, adb_server, adb_device_serial, phone
):
    target, files, _ = phone
    small = standin.tree_files(mem_available_kb=100_000)  # 100 MB available
    standin.lay_out(target, TREE, small)
    before = standin.read_tree(target, TREE)
    cfg = config(tmp_path, adb_line(adb_server, adb_device_serial), vmas=8192,
                 scenarios="    - {name: 10 pages, pages: 10}\n")
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    data = results(tmp_path)
    [err] = [e for e in data["errors"] if e["kind"] == "not-enough-memory"]
    assert err["scenario"] == "10 pages" and "8192 VMAs x 10 pages x 4096 B" in err["message"]
    assert "98 MiB available" in err["message"] and err["needed_bytes"] > err["available_bytes"]
    assert data["samples"] == [] and data["targets"][0]["device_changes"] == []
    assert standin.read_tree(target, TREE) == before
    assert standin.getprop(target, "init.svc.zygote") == "running"
    assert target.run(["cat", f"{standin.PROPS_DIR}/.history"], timeout=30).stdout == ""  # stop never ran


def test_map_count_that_cannot_be_raised_is_refused(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):
    target, _, before = phone
    cfg = config(tmp_path, adb_line(adb_server, adb_device_serial), device_extra="  root: never\n")
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    data = results(tmp_path)
    errs = [e for e in data["errors"] if e["kind"] == "map-count-too-low"]
    assert [e["scenario"] for e in errs] == ["unpopulated", "1 page"]
    assert (
        "needs vm.max_map_count >= 1536" in errs[0]["message"] and "the device has 1000 (not root" in errs[0]["message"]
    )
    assert standin.read_tree(target, TREE) == before and data["samples"] == []


def test_connection_lost_during_restore_is_restored_on_reconnect(
    tmp_path, adb_server, adb_device_serial, phone, monkeypatch
):
    """Fault injection: the real adb target, wrapped so that its connection 'drops' (every
    command fails) the moment the restore starts. The restore fails on that connection;
    devbench reconnects and restores from the journal on the device."""
    import devbench.run.steps as steps
    from devbench.config import load_config
    from devbench.device.tuning import Tuner
    from devbench.errors import TargetError
    from devbench.run.runner import NoProgress, execute, start_run

    class DroppingTarget:
        def __init__(self, inner):
            self.inner, self.cut = inner, False

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def run(self, argv, **kw):
            if self.cut:
                raise TargetError(self.inner.name, f"run {argv[0]}", "adb connection lost: injected fault")
            return self.inner.run(argv, **kw)

    real_open, real_restore = steps.open_target, Tuner.restore
    opened = []

    def open_target(tcfg, run_dir, step, **kw):
        opened.append(real_open(tcfg, run_dir, step, **kw))
        return DroppingTarget(opened[-1]) if len(opened) == 1 else opened[-1]

    def restore(self):
        self.access.target.cut = True
        return real_restore(self)

    monkeypatch.setattr(steps, "open_target", open_target)
    monkeypatch.setattr(Tuner, "restore", restore)
    target, _, before = phone
    cfg = load_config(config(tmp_path, adb_line(adb_server, adb_device_serial)))
    run_dir, store = start_run(cfg)
    assert execute(cfg, store, NoProgress()) is False  # the failed restore is an error of the run
    assert len(opened) == 2
    assert_restored(target, before)
    # the lock the lost connection could not release went with the restore on the new one (left,
    # it would hold off every later run of this process: the test's own pid is alive)
    assert not target.run(["test", "-e", f"{ADB_WORKDIR}/.lock"], timeout=30).ok
    data = json.loads((run_dir / "results.json").read_text())
    [t] = data["targets"]
    errors = [e for e in data["errors"] if e["kind"] != "kernel-lacks-anon-vma-name"]  # this host's kernel
    assert [e["kind"] for e in errors] == ["restore-failed"], [e["message"] for e in errors]
    message = errors[0]["message"]
    assert "7 setting(s) not restored" in message and "injected fault" in message and "devbench restore" in message
    assert not any(c["restored"] for c in t["device_changes"])  # as the first connection saw it
    undid = "restore on reconnect: undid run " + data["run"]["id"]
    assert any(w.startswith(undid) for w in t["warnings"]), t["warnings"]
    # nothing measured is lost
    assert sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == "unnamed") == 2 * 40
