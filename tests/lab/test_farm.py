"""A farm in one run: four real lab devices (amd64 and arm64, over adb and SSH) at once; a
device killed mid-run fails alone; a device busy with another devbench is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devlab import LabDevice
from devlab.emulated import EmulatedLabDevice
from tests.lab import lines, runs
from tests.lab.lines import ssh_line

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def second_amd64(lab_rootfs):
    with LabDevice(lab_rootfs, name="farm-amd64") as dev:
        yield dev


@pytest.fixture(scope="module")
def second_arm64(lab_rootfs_arm64):
    with EmulatedLabDevice(lab_rootfs_arm64, arch="arm64", name="farm-arm64") as dev:
        yield dev


def adb_line(name: str, serial: str, port: int) -> str:
    return lines.adb_line(name, serial, port, how="connect")


def farm_config(tmp_path: Path, targets: list[str], *, forks: int = 20, batches: int = 2, vmas: int = 2048) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "farm.yaml"
    lines = "\n".join(f"  - {t}" for t in targets)
    cfg.write_text(f"""\
run: {{name: farm, output: {tmp_path / 'out'}}}
targets:
{lines}
benchmark:
  vmas: {vmas}
  forks: {forks}
  warmup: 1
  batches: {batches}
  scenarios:
    - {{name: 1 page, pages: 1}}
""")
    return cfg


def results(tmp_path: Path) -> dict:
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    return json.loads((run_dir / "results.json").read_text())


def unnamed(data: dict, target: str) -> int:
    return sum(len(s["fork_ns"]) for s in data["samples"] if s["target"] == target and s["arm"] == "unnamed")


def test_four_devices_in_one_run(
    tmp_path, devbench_cmd, adb_server, lab_device, lab_device_arm64, second_amd64, second_arm64
):
    adb_server.connect(lab_device.adb_serial)
    adb_server.connect(lab_device_arm64.adb_serial)
    targets = [
        adb_line("amd64-adb", lab_device.adb_serial, adb_server.port),
        ssh_line("amd64-ssh", second_amd64.ssh()),
        adb_line("arm64-adb", lab_device_arm64.adb_serial, adb_server.port),
        ssh_line("arm64-ssh", second_arm64.ssh()),
    ]
    res = runs.run(
        [*devbench_cmd, "run", str(farm_config(tmp_path, targets))], capture_output=True, text=True, timeout=900
    )
    assert "Traceback" not in res.stderr
    data = results(tmp_path)
    by_name = {t["name"]: t for t in data["targets"]}
    assert set(by_name) == {"amd64-adb", "amd64-ssh", "arm64-adb", "arm64-ssh"}
    for name, t in by_name.items():
        assert unnamed(data, name) == 20, name
        assert t["facts"]["machine"] == ("aarch64" if name.startswith("arm64") else "x86_64")
        assert t["status"] in ("ok", "failed")  # failed only by the named arm on this machine's kernel
        assert [e["kind"] for e in data["errors"] if e["target"] == name] in ([], ["kernel-lacks-anon-vma-name"])
    # at the same time: every target had started before the first one was done
    lines = res.stderr.splitlines()
    first_done = min(i for i, ln in enumerate(lines) if ln.split("] ", 1)[-1].startswith(("ok:", "FAILED:")))
    for name in by_name:
        assert min(i for i, ln in enumerate(lines) if ln.startswith(f"[{name}] ")) < first_done, name


def test_a_device_killed_mid_run_fails_alone(tmp_path, devbench_cmd, adb_server, lab_device, lab_rootfs):
    with LabDevice(lab_rootfs, name="farm-doomed") as doomed:
        targets = [ssh_line("steady", lab_device.ssh()), ssh_line("doomed", doomed.ssh())]
        cfg = farm_config(tmp_path, targets, forks=600, batches=30, vmas=2048)
        proc = subprocess.Popen(
            [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    data = results(tmp_path)
                except (ValueError, FileNotFoundError):
                    data = {"samples": []}
                if any(s["target"] == "doomed" for s in data["samples"]):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the doomed device never produced samples")
            doomed.stop()  # the whole device goes: sshd, payload, namespace
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 1 and "Traceback" not in err
    data = results(tmp_path)
    by_name = {t["name"]: t for t in data["targets"]}
    assert by_name["doomed"]["status"] == "failed"
    doomed_errors = [e for e in data["errors"] if e["target"] == "doomed" and e["kind"] != "kernel-lacks-anon-vma-name"]
    assert doomed_errors and all("\n" not in e["message"] for e in doomed_errors)
    assert any(
        "doomed" in e["message"] and ("SSH" in e["message"] or "connection" in e["message"]) for e in doomed_errors
    ), doomed_errors
    assert unnamed(data, "steady") == 600  # the other device finished
    assert 0 < unnamed(data, "doomed") < 600  # and what the doomed one measured is kept


def test_a_device_busy_with_another_devbench_is_refused(tmp_path, devbench_cmd, ssh_device):
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    # cannot end within the test
    long = farm_config(first_dir, [ssh_line("dut", ssh_device)], forks=200_000, batches=10_000)
    proc = subprocess.Popen(
        [*devbench_cmd, "run", str(long), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        runs.wait_mid_run(proc, first_dir / "out")  # it holds the device's lock now
        res = runs.run([*devbench_cmd, "run", str(farm_config(second_dir, [ssh_line("dut", ssh_device)])), "--quiet"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 1
        data = results(second_dir)
        [err] = [e for e in data["errors"] if e["kind"] == "device-busy"]
        assert f"in use by devbench pid {proc.pid}" in err["message"] and data["samples"] == []
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=120)
    assert proc.returncode == 130
    # the lock went with the run: the device is free again
    runs.run([*devbench_cmd, "run", str(farm_config(tmp_path / "c", [ssh_line("dut", ssh_device)])), "--quiet"],
                   capture_output=True, text=True, timeout=120)
    assert not [e for e in results(tmp_path / "c")["errors"] if e["kind"] == "device-busy"]
