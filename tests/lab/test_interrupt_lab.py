"""Interrupts: SIGINT and SIGTERM in the middle of a run restore the device and keep the data."""

import json
import signal
import subprocess
import time

import pytest

from tests.lab import runs

pytestmark = pytest.mark.lab

MAP_COUNT = "/proc/sys/vm/max_map_count"


def config(tmp_path, adb_server, adb_serial, ssh, transport, map_count):
    target = (
        f'{{name: dut, adb: {{connect: "{adb_serial}", server_port: {adb_server.port}}}}}'
        if transport == "adb"
        else (f"{{name: dut, ssh: {{host: {ssh.host}, port: {ssh.port}, key: {ssh.key}, "
              f"known_hosts: {ssh.known_hosts}}}}}")
    )
    return f"""\
run: {{name: interrupt, output: {tmp_path / 'out'}}}
targets:
  - {target}
device: {{max_map_count: {map_count}}}
benchmark:
  vmas: 2048
  forks: 400000
  warmup: 0
  batches: 40000
  scenarios:
    - {{name: long, pages: 1}}
"""


def device_processes(ssh_run, name):
    return [ln for ln in ssh_run(["ps", "-eo", "comm"]).splitlines() if ln.startswith(name)]


@pytest.mark.parametrize("transport,sig", [("adb", signal.SIGINT), ("ssh", signal.SIGTERM)])
def test_interrupt_restores_device_and_keeps_samples(
    tmp_path, devbench_cmd, adb_server, adb_device_serial, ssh_device, lab_device, transport, sig
):
    before = open(MAP_COUNT).read().strip()  # the lab device shares this machine's kernel
    # a value that differs from whatever the machine has (a run killed by SIGKILL elsewhere may
    # have left one), so that the run must change it and restore it
    want = str(int(before) + 1001)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(tmp_path, adb_server, adb_device_serial, ssh_device, transport, want))
    proc = subprocess.Popen([*devbench_cmd, "run", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        results = runs.wait_mid_run(proc, tmp_path / "out", samples=3)
        assert open(MAP_COUNT).read().strip() == want  # prepared while running
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (
        f"signal {sig!r} sent mid-measurement; exit {proc.returncode}:\n{runs.stderr_tail(err)}"
    )
    assert "interrupted" in err and "Traceback" not in err
    assert open(MAP_COUNT).read().strip() == before
    data = json.loads(results.read_text())
    assert data["run"]["status"] == "interrupted"
    [change] = data["targets"][0]["device_changes"]
    assert {k: change[k] for k in ("setting", "path", "before", "after", "verified", "restored", "restored_value")} == {
        "setting": "vm.max_map_count", "path": MAP_COUNT, "before": before, "after": want, "verified": True,
        "restored": True, "restored_value": before}
    assert len(data["samples"]) >= 3 and all(len(s["fork_ns"]) == 10 for s in data["samples"])
    assert any(e["kind"] == "interrupted" for e in data["errors"])
    assert (results.parent / "report.html").exists()
    # the payload does not outlive the run on the device
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = subprocess.run(["ip", "netns", "pids", lab_device.netns], capture_output=True, text=True).stdout.split()
        names = [open(f"/proc/{p}/comm").read().strip() for p in left if _exists(p)]
        if not any(n.startswith("forkbench") for n in names):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"payload still running on the device: {names}")


def _exists(pid):
    try:
        open(f"/proc/{pid}/comm").close()
        return True
    except OSError:
        return False
