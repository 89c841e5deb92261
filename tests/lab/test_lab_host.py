"""A device reached through a lab host over SSH, end to end.

The lab host is the lab device itself: its real sshd, and a real adb server started inside it
by the test (the adb bundled with adbutils), to which the device's own adbd is connected.
devbench connects to the lab host with paramiko (strict host keys), forwards a loopback port
to that adb server, lists its devices and runs the benchmark through it."""

from __future__ import annotations

import json

import pytest

from devbench.config import SshOptions
from devbench.guest.adbserver import adb_binary
from devbench.targets.ssh import SshTarget
from tests.lab import runs

pytestmark = pytest.mark.lab

INNER_ADB = "/tmp/devbench-labhost/adb"
PORT = 5038  # the lab host's adb server (not 5037: nothing of the machine's own may answer by mistake)


@pytest.fixture(scope="module")
def lab_host(ssh_device, lab_device):
    s = ssh_device
    ssh = SshTarget(
        "labhost-setup",
        SshOptions(host=s.host, port=s.port, user=s.user, key=str(s.key), known_hosts=str(s.known_hosts)),
    )
    from pathlib import Path

    ssh.run(["mkdir", "-p", "/tmp/devbench-labhost"], timeout=30)
    ssh.push(Path(adb_binary()), INNER_ADB, 0o755)
    res = ssh.run(["sh", "-c", 'HOME=/tmp/devbench-labhost nohup "$0" -L "tcp:127.0.0.1:$1" server nodaemon '
                   '>/tmp/devbench-labhost/server.log 2>&1 & echo $!', INNER_ADB, str(PORT)], timeout=30)
    pid = res.stdout.strip()
    assert pid.isdigit(), res.stderr
    try:
        serial = lab_device.adb_serial
        for _ in range(50):
            out = ssh.run([INNER_ADB, "-P", str(PORT), "connect", serial], timeout=30).stdout
            if "connected" in out and "cannot" not in out:
                break
        devices = ssh.run([INNER_ADB, "-P", str(PORT), "devices"], timeout=30).stdout
        assert f"{serial}\tdevice" in devices, devices
        yield s, serial
    finally:
        ssh.run(["kill", pid], timeout=30)  # the lab host's adb server, by its PID
        ssh.run(["rm", "-rf", "/tmp/devbench-labhost"], timeout=30)
        ssh.close()


def config(tmp_path, s, target: str) -> str:
    cfg = tmp_path / "labhost.yaml"
    cfg.write_text(f"""\
run: {{name: labhost, output: {tmp_path / 'out'}}}
lab_hosts:
  rack1: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {s.key}, known_hosts: {s.known_hosts}, adb_port: {PORT}}}
targets:
  - {target}
benchmark:
  vmas: 512
  forks: 10
  warmup: 1
  batches: 2
  scenarios:
    - {{name: 1 page, pages: 1}}
""")  # noqa: E501 (data, kept as it is)
    return str(cfg)


def run(devbench_cmd, cfg: str, tmp_path):
    res = runs.run([*devbench_cmd, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    return res, json.loads((run_dir / "results.json").read_text())


def test_a_device_on_a_lab_host_runs_end_to_end(tmp_path, devbench_cmd, lab_host):
    s, serial = lab_host
    res, data = run(
        devbench_cmd, config(tmp_path, s, f'{{name: far, adb: {{serial: "{serial}", via: rack1}}}}'), tmp_path
    )
    [t] = data["targets"]
    assert t["transport"] == "adb" and t["transport_info"]["via"] == "rack1"
    assert t["transport_info"]["lab_host"] == f"{s.user}@{s.host}:{s.port}" and t["transport_info"]["serial"] == serial
    assert sum(len(x["fork_ns"]) for x in data["samples"] if x["arm"] == "unnamed") == 10
    assert [e["kind"] for e in data["errors"]] in ([], ["kernel-lacks-anon-vma-name"])


def test_devices_are_selected_by_pattern_on_the_lab_host(tmp_path, devbench_cmd, lab_host):
    s, serial = lab_host
    res, data = run(devbench_cmd, config(tmp_path, s, "{name: rack1, adb: {via: rack1, select: all}}"), tmp_path)
    names = {t["name"]: t for t in data["targets"]}
    assert "rack1-" + serial.replace(":", "_") in names
    # The lab host's adb server also finds the device's adbd on localhost:5555 by itself and
    # lists it a second time, as emulator-5554 (real adb behaviour): two targets, one device.
    # The device lock lets exactly one of them run; the other is refused as busy.
    assert set(names) <= {"rack1-" + serial.replace(":", "_"), "rack1-emulator-5554"}
    measured = {x["target"] for x in data["samples"]}
    assert len(measured) == 1 and sum(len(x["fork_ns"]) for x in data["samples"] if x["arm"] == "unnamed") == 10
    busy = [e for e in data["errors"] if e["kind"] == "device-busy"]
    assert len(busy) == len(names) - 1 and all("the device is in use by devbench pid" in e["message"] for e in busy)
    (tmp_path / "none").mkdir()
    none = runs.run(
        [*devbench_cmd, "run", config(tmp_path / "none", s, "{name: rack1, adb: {via: rack1, select: 'abi:mips'}}")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert none.returncode == 1 and "no device of lab host rack1 matches 'abi:mips'" in none.stderr


def test_a_lab_host_with_an_unknown_host_key_is_refused(tmp_path, devbench_cmd, lab_host):
    s, serial = lab_host
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    cfg = config(tmp_path, s, f'{{name: far, adb: {{serial: "{serial}", via: rack1}}}}')
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace(str(s.known_hosts), str(empty)))
    res = runs.run([*devbench_cmd, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    [err] = data["errors"]
    assert (
        err["kind"] == "connect-failed" and "lab host rack1" in err["message"] and "unknown host key" in err["message"]
    )


_ASK_VERSION = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"000chost:version")
try:
    print(repr(s.recv(64)))
except OSError as e:
    print(type(e).__name__)
"""


def test_the_tunnel_serves_devbenchs_uid_only(lab_host):
    """The lab-host tunnel reaches the lab host's adb server (root on every device there): a
    process of another user (uid 65534) that connects to its loopback port is closed before
    anything is forwarded; devbench's own connection gets the server's answer."""
    import subprocess

    from devbench.config import LabHost
    from devbench.targets.tunnel import SshTunnel
    from tests.lab.connect_as import NOBODY, SYSTEM_PYTHON

    s, _ = lab_host
    host = LabHost("rack1", SshOptions(host=s.host, port=s.port, user=s.user, key=str(s.key),
                                        known_hosts=str(s.known_hosts)), adb_port=PORT)
    tunnel = SshTunnel(host, PORT)
    try:
        def ask(**user):
            cp = subprocess.run([SYSTEM_PYTHON, "-c", _ASK_VERSION, str(tunnel.port)], capture_output=True, text=True,
                                timeout=60, cwd="/", **user)
            assert cp.returncode == 0, cp.stderr
            return cp.stdout.strip()

        assert ask(user=NOBODY, group=NOBODY, extra_groups=[]) in ("b''", "ConnectionResetError")
        assert tunnel.refused == 1
        assert ask().startswith("b'OKAY"), "devbench's own uid is served"
        assert tunnel.refused == 1
    finally:
        tunnel.close()
