"""Android-only paths on a STAND-IN: the real lab adbd with a fake `getprop` that answers
like an Android emulator. No lab device runs Android; this checks devbench's detection and
its emulator defaults, not Android itself."""

import json

import pytest

from devbench.config import AdbOptions
from devbench.targets.adb import AdbTarget
from tests.lab import runs

pytestmark = pytest.mark.lab

FAKE_GETPROP = """#!/bin/sh
# devbench test stand-in: answers like an Android emulator
case "$1" in
  ro.build.version.sdk) echo 34 ;;
  ro.kernel.qemu) echo 1 ;;
  ro.product.model) echo 'sdk_gphone64 <b>x86_64</b>' ;;
  ro.product.cpu.abi) echo x86_64 ;;
  *) echo ;;
esac
"""


@pytest.fixture
def emulator_standin(tmp_path, adb_server, adb_device_serial):
    t = AdbTarget("standin", AdbOptions(serial=adb_device_serial, server_port=adb_server.port))
    script = tmp_path / "getprop"
    script.write_text(FAKE_GETPROP)
    t.push(script, "/usr/bin/getprop", 0o755)
    try:
        yield adb_device_serial
    finally:
        t.run(["rm", "-f", "/usr/bin/getprop"], timeout=30)
        t.close()


@pytest.mark.parametrize("on_emulator,expected", [("smoke", 100), ("full", 120)])  # smoke: plan.EMULATOR_SMOKE
def test_emulator_is_detected_warned_and_run_small(
    tmp_path, devbench_cmd, adb_server, emulator_standin, on_emulator, expected
):
    cfg = tmp_path / "emu.yaml"
    cfg.write_text(f"""\
run: {{name: emu, output: {tmp_path / 'out'}}}
targets:
  - {{name: emu, adb: {{serial: "{emulator_standin}", server_port: {adb_server.port}}}}}
benchmark:
  vmas: 512
  forks: 120
  batches: 12
  warmup: 3
  on_emulator: {on_emulator}
  scenarios:
    - {{name: unpopulated, pages: 0}}
""")
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    t = data["targets"][0]
    assert t["facts"]["android"] is True and t["facts"]["emulator"] is True and t["facts"]["android_sdk"] == 34
    assert any("emulator timings are not device timings" in w for w in t["warnings"])
    assert any("emulator smoke run" in w for w in t["warnings"]) == (on_emulator == "smoke")
    assert sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == "unnamed") == expected
    html = (run_dir / "report.html").read_text()
    assert "emulator timings are not device timings" in html
    assert "<b>x86_64</b>" not in html and "&lt;b&gt;x86_64&lt;/b&gt;" in html  # device strings are escaped
