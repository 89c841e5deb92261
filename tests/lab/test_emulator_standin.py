"""`emulator: {avd: NAME}` targets, on a STAND-IN emulator (tests/lab/standins/emulator) that
registers the lab's real adbd with the adb server the way the SDK emulator does. Checks that
devbench starts it, waits for sys.boot_completed, runs, and kills it by PID afterwards."""

import json
import os
from pathlib import Path

import pytest

from devbench.config import AdbOptions
from devbench.targets.adb import AdbTarget
from devbench.targets.emulator import emulator_command
from tests.lab import runs

STANDINS = Path(__file__).parent / "standins"
GETPROP = """#!/bin/sh
case "$1" in
  ro.build.version.sdk) echo 34 ;;
  sys.boot_completed) echo 1 ;;
  *) echo ;;
esac
"""


@pytest.fixture
def boot_completed_getprop(tmp_path, adb_server, adb_device_serial):
    t = AdbTarget("standin", AdbOptions(serial=adb_device_serial, server_port=adb_server.port))
    (tmp_path / "getprop").write_text(GETPROP)
    t.push(tmp_path / "getprop", "/usr/bin/getprop", 0o755)
    try:
        yield
    finally:
        t.run(["rm", "-f", "/usr/bin/getprop"], timeout=30)
        t.close()


def test_emulator_command_is_headless_and_keeps_the_avd():
    cmd = emulator_command(Path("/sdk/emulator/emulator"), "pixel_7", 5560)
    assert cmd[:5] == ["/sdk/emulator/emulator", "-avd", "pixel_7", "-port", "5560"]
    assert "-no-window" in cmd and "-no-snapshot-save" in cmd


def config(tmp_path, adb_server, sdk):
    return f"""\
run: {{name: emu, output: {tmp_path / 'out'}}}
targets:
  - {{name: avd, emulator: {{avd: test_avd, sdk: {sdk}, boot_timeout_s: 60, server_port: {adb_server.port}}}}}
benchmark:
  vmas: 256
  forks: 200
  batches: 20
  scenarios:
    - {{name: unpopulated, pages: 0}}
"""


@pytest.mark.lab
def test_emulator_target_starts_runs_and_stops_the_standin(
    tmp_path, devbench_cmd, adb_server, lab_device, boot_completed_getprop
):
    sdk = tmp_path / "sdk"
    (sdk / "emulator").mkdir(parents=True)
    (sdk / "emulator" / "emulator").symlink_to(STANDINS / "emulator")
    pidfile = tmp_path / "standin.pid"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(tmp_path, adb_server, sdk))
    env = {**os.environ, "STANDIN_ADBD": lab_device.adb_serial, "STANDIN_PIDFILE": str(pidfile)}
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=300, env=env)
    assert "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    t = data["targets"][0]
    assert t["transport"] == "emulator" and t["facts"]["android"] is True
    assert any("emulator timings are not device timings" in w for w in t["warnings"])
    assert sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == "unnamed") == 100  # smoke: plan.EMULATOR_SMOKE
    assert (run_dir / "emulator-avd.log").read_text().startswith("stand-in emulator for AVD test_avd")
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the emulator outlived the run"


@pytest.mark.lab
def test_missing_sdk_is_a_clear_error(tmp_path, devbench_cmd, adb_server, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(tmp_path, adb_server, tmp_path / "no-sdk"))
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    errors = json.loads((run_dir / "results.json").read_text())["errors"]
    assert [e["kind"] for e in errors] == ["emulator-failed"] and "emulator is not installed" in errors[0]["message"]
