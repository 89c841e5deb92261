"""What users expect (issue 18), through the CLI against the real lab device: adb's own
conventions (ANDROID_SERIAL, the only device attached, ADB_SERVER_SOCKET), `devbench check`
changing nothing, and run's --set overrides, exports and `latest` link.

The device's state is read before and after through the real adb transport: the STAND-IN
Android tree (tests/standins/android_device.py: governors, frequencies, max_map_count, CPUs
online), the stand-in framework's properties, and the work folder (lock, journal, payload).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from pathlib import Path

import adbutils
import pytest

from devbench.guest.adbserver import free_port
from tests.lab import runs
from tests.standins import android_device as standin

pytestmark = pytest.mark.lab

TREE = "/data/local/tmp/standin-tree"
BIN = "/usr/local/bin"
WORKDIR = "/data/local/tmp/devbench"


@pytest.fixture
def phone(adb_target):
    files = standin.tree_files()
    standin.lay_out(adb_target, TREE, files)
    standin.install(adb_target, BIN)
    yield adb_target
    standin.uninstall(adb_target, BIN)
    adb_target.run(["rm", "-rf", TREE], timeout=30)


def _config(tmp_path: Path, adb: str, *, scenarios: str = "    - {name: unpopulated, pages: 0}\n") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""\
run: {{name: conventions, output: {tmp_path / 'out'}}}
targets:
  - {{name: phone, adb: {adb}}}
device:
  stop_framework: true
  cpufreq: {{governor: performance, khz: max, cpus: [0, 4]}}
  sysfs: {TREE}/sys
  procfs: {TREE}/proc
benchmark:
  vmas: 512
  forks: 40
  warmup: 1
  batches: 4
  scenarios:
{scenarios}""")
    return cfg


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)  # ANDROID_ADB_SERVER_PORT: the private server's (tests/lab/conftest.py)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _state(target) -> dict[str, object]:
    """What a run changes on the device, read through adb."""
    listing = target.run(["sh", "-c", 'ls -la "$1" 2>&1; ls -la "$1/.lock" 2>&1', "sh", WORKDIR], timeout=30).stdout
    return {"tree": standin.read_tree(target, TREE), "zygote": standin.getprop(target, "init.svc.zygote"),
            "boot_completed": standin.getprop(target, "sys.boot_completed"), "workdir": listing}


def _only_device(adb_server, serial: str) -> None:
    """Leave the lab device the only one on the private server (other tests connect theirs again)."""
    client = adbutils.AdbClient(host="127.0.0.1", port=adb_server.port)
    for d in client.list():
        if d.serial != serial:
            client.disconnect(d.serial)
    assert [d.serial for d in client.list()] == [serial]


def test_check_changes_nothing(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):
    _only_device(adb_server, adb_device_serial)
    before = _state(phone)
    cfg = _config(tmp_path, "{}", scenarios="    - {name: unpopulated, pages: 0}\n    - {name: huge, pages: 100000}\n")
    res = runs.run([*devbench_cmd, "check", str(cfg)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr  # the run could start, but would refuse 'huge'
    after = _state(phone)
    assert after == before
    out = res.stdout
    assert before["tree"]["proc/sys/vm/max_map_count"] == "1000"  # the tree is what check saw, and it stays
    assert f"target phone (adb: serial {adb_device_serial}, serial_from the only device attached" in out
    assert "vm.max_map_count: 1000 -> 1536" in out and "policy0 scaling_governor: schedutil -> performance" in out
    assert "android framework: stopped" in out
    assert "huge: not-enough-memory: scenario 'huge' needs about" in out and "available (MemAvailable)" in out
    assert "unpopulated (0 pages per VMA): both arms, interleaved, 40 timed forks per arm" in out
    assert "payload    x86_64, " in out and "lock       free" in out and "journal    none" in out
    assert "ready      without huge (not enough memory)" in out
    assert out.rstrip().endswith("(1 of 1 target(s) ready); nothing on the devices was changed")


def test_android_serial_run_with_overrides_exports_and_latest(
    tmp_path, devbench_cmd, adb_server, adb_device_serial, phone
):
    exports = tmp_path / "ci"
    before = _state(phone)
    res = runs.run(
        [
            *devbench_cmd,
            "run",
            str(_config(tmp_path, "{}")),
            "--quiet",
            "--set",
            "benchmark.forks=20",
            "--set",
            "benchmark.batches=2",
            "--json",
            str(exports / "r.json"),
            "--csv",
            str(exports / "r.csv"),
            "--markdown",
            str(exports / "r.md"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(ANDROID_SERIAL=adb_device_serial),
    )
    data = runs.results(tmp_path / "out", res)
    t = runs.target(data, "phone", res)
    assert (
        t["transport_info"]["serial"] == adb_device_serial and t["transport_info"]["serial_from"] == "$ANDROID_SERIAL"
    )
    assert t["transport_info"]["adb_server"] == f"127.0.0.1:{adb_server.port}"
    assert t["transport_info"]["adb_server_from"] == "ANDROID_ADB_SERVER_PORT"
    bench = data["run"]["config"]["benchmark"]
    assert (bench["forks"], bench["batches"]) == (20, 2)  # the overrides, recorded as run
    assert sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == "unnamed") == 20
    # the lab device runs this machine's kernel: without CONFIG_ANON_VMA_NAME the named arm is
    # refused (exit 1, the unnamed samples kept); with it, every sample is taken (exit 0)
    refused = [e for e in data["errors"] if e["kind"] == "kernel-lacks-anon-vma-name"]
    assert [e["kind"] for e in data["errors"]] == [e["kind"] for e in refused]
    assert res.returncode == (1 if refused else 0), res.stderr
    summary = json.loads((exports / "r.json").read_text())
    assert json.dumps(summary)  # a JSON document, as `report --format json` prints it
    rows = list(csv.DictReader(io.StringIO((exports / "r.csv").read_text())))
    assert [r["scenario"] for r in rows] == ["unpopulated"]
    assert "unpopulated" in (exports / "r.md").read_text()
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    assert os.readlink(tmp_path / "out" / "latest") == run_dir.name
    assert {k: v for k, v in _state(phone).items() if k != "workdir"} == {
        k: v for k, v in before.items() if k != "workdir"
    }


def test_bad_override_names_itself_and_touches_nothing(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):
    before = _state(phone)
    res = runs.run([*devbench_cmd, "run", str(_config(tmp_path, "{}")), "--set", "benchmark.forkz=20"],
                   capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert (
        res.stderr.strip()
        == "devbench: --set benchmark.forkz=20: benchmark.forkz: unknown key 'forkz'; did you mean 'forks'?"
    )
    assert not (tmp_path / "out").exists() and _state(phone) == before


def test_server_socket_variable_is_honoured(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):
    """ADB_SERVER_SOCKET wins over ANDROID_ADB_SERVER_PORT (here a port nothing listens on), as in adb."""
    env = _env(ADB_SERVER_SOCKET=f"tcp:127.0.0.1:{adb_server.port}", ANDROID_ADB_SERVER_PORT="1")
    res = runs.run([*devbench_cmd, "check", str(_config(tmp_path, f'{{serial: "{adb_device_serial}"}}')), "--no-build"],
                   capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"adb_server 127.0.0.1:{adb_server.port}" in res.stdout
    bad = runs.run([*devbench_cmd, "check", str(_config(tmp_path, "{}")), "--no-build"],
                   capture_output=True, text=True, timeout=120, env=_env(ADB_SERVER_SOCKET="localfilesystem:/tmp/x"))
    assert (
        bad.returncode == 1
        and "$ADB_SERVER_SOCKET='localfilesystem:/tmp/x': only tcp:PORT or tcp:HOST:PORT" in bad.stdout
    )


def test_adaptive_progress_total_is_the_forks_taken(tmp_path, devbench_cmd, adb_server, adb_device_serial, phone):
    """forks: auto: the progress total is re-estimated each round and ends equal to the forks
    taken (not max_forks from the start)."""
    res = runs.run([*devbench_cmd, "run", str(_config(tmp_path, f'{{serial: "{adb_device_serial}"}}')),
                    "--set", "benchmark.forks=auto", "--set", "benchmark.round_forks=20",
                    "--set", "benchmark.max_forks=60", "--set", "benchmark.precision=0.001"],
                   capture_output=True, text=True, timeout=600)
    data = runs.results(tmp_path / "out", res)
    taken = sum(len(s["fork_ns"]) for s in data["samples"])
    assert taken == 60 * len({s["arm"] for s in data["samples"]})  # the cap: 3 rounds of 20 per arm
    plans = [line for line in res.stderr.splitlines() if line.startswith("[phone] plan: about ")]
    assert len(plans) >= 2, res.stderr  # the first round's, then each new total after a round
    counts = [tuple(map(int, m.groups())) for m in re.finditer(r"\+\d+ forks \((\d+)/(\d+)", res.stderr)]
    assert counts[-1] == (taken, taken), counts
    assert all(total <= 2 * 60 for _, total in counts)  # never max_forks x scenarios x 2 + more than what runs


def _adb_servers_on(port: int) -> list[int]:
    """PIDs of adb servers listening on this port (`adb -L tcp:PORT fork-server ...`)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"adb" and any(a.endswith(f"tcp:{port}".encode()) for a in argv):
            pids.append(int(pid))
    return pids


def test_no_server_on_the_environments_port_is_started_as_adb_does(tmp_path, devbench_cmd, adb_device_serial):
    """As on a fresh machine whose environment names a port (ANDROID_ADB_SERVER_PORT) with no
    server on it yet: adb starts one there, and so does devbench (adbutils runs `adb
    start-server`, which honours the variable). The server it started is ended by PID."""
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = _env(ANDROID_ADB_SERVER_PORT=str(port), HOME=str(home), ANDROID_USER_HOME=str(home / ".android"),
               ADB_MDNS="0", ADB_EMU="0")
    try:
        res = runs.run([*devbench_cmd, "check", str(_config(tmp_path, f'{{connect: "{adb_device_serial}"}}')),
                        "--no-build"], capture_output=True, text=True, timeout=300, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"adb_server 127.0.0.1:{port}" in res.stdout
        assert _adb_servers_on(port), "no adb server was started on the environment's port"
    finally:
        for pid in _adb_servers_on(port):
            os.kill(pid, 15)
        for _ in range(50):
            if not _adb_servers_on(port):
                break
            time.sleep(0.1)
    assert _adb_servers_on(port) == []
