"""SSH host keys are always checked, through the whole `devbench run` (issue 8, item 6).

A second sshd runs inside the real lab device on its own port with a NEW host key: the device
whose key changed. A known_hosts that holds the device's old key for that address and port
(what a user had before the key changed) is refused; so is a known_hosts without the address
(an unknown host). Either way devbench exits 1 with the reason, known_hosts is left as it was
(nothing is learnt), and nothing runs on the device. There is no opt-out: a config key that
would turn the check off is refused.

tests/lab/test_targets_real.py checks the same refusals on SshTarget alone (empty known_hosts,
a wrong key, a missing file); this adds the changed key of a real server and the CLI path.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from devbench.config import SshOptions
from devbench.guest.keys import known_hosts_lines, write_ed25519
from devbench.guest.rootfs import SSHD_PATH
from devbench.targets.ssh import SshTarget
from devlab.device import SSHD_CONFIG
from tests.lab import runs

pytestmark = pytest.mark.lab

PORT = 2223  # the lab device's own sshd is on 2222
HK = "/tmp/devbench-test-hostkey"


@pytest.fixture
def rekeyed(tmp_path, adb_target, ssh_device):
    """A second sshd in the lab device, same address, port 2223, a host key of its own.
    Yields the public line of that new key."""
    new_pub = write_ed25519(tmp_path / "new_host_key", "root@rekeyed")
    config = tmp_path / "sshd_config"
    config.write_text(SSHD_CONFIG.format(port=PORT, address=ssh_device.host)
                      .replace("/etc/ssh/devbench_host_ed25519_key", f"{HK}/key").replace("/run/sshd.pid", f"{HK}/pid"))
    assert adb_target.run(["mkdir", "-p", "-m", "700", HK], timeout=30).ok
    adb_target.push(tmp_path / "new_host_key", f"{HK}/key", 0o600)
    adb_target.push(config, f"{HK}/sshd_config", 0o644)
    res = adb_target.run([SSHD_PATH, "-f", f"{HK}/sshd_config"], timeout=30)  # daemonises; its pid goes to HK/pid
    assert res.ok, res.stderr
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((ssh_device.host, PORT), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the second sshd did not come up"
            time.sleep(0.1)
    try:
        yield new_pub
    finally:
        pid = adb_target.run(["cat", f"{HK}/pid"], timeout=30).stdout.strip()
        if pid.isdigit():
            adb_target.run(["kill", pid], timeout=30)  # the sshd this fixture started, by its pid
        adb_target.run(["rm", "-rf", HK], timeout=30)


def config(tmp_path: Path, ssh_device, known_hosts: Path, workdir: str, extra: str = "") -> Path:
    cfg = tmp_path / "hk.yaml"
    cfg.write_text(f"""\
run: {{name: hostkeys, output: {tmp_path / 'out'}}}
targets:
  - {{name: board, ssh: {{host: {ssh_device.host}, port: {PORT}, user: root, key: {ssh_device.key}, known_hosts: {known_hosts}, workdir: {workdir}{extra}}}}}
benchmark: {{vmas: 64, forks: 4, batches: 1, warmup: 0, scenarios: [{{name: s, pages: 0}}]}}
""")  # noqa: E501 (data, kept as it is)
    return cfg


def test_the_rekeyed_sshd_works_with_its_own_key(tmp_path, ssh_device, rekeyed):
    """Positive control: with the new key in known_hosts the same server is reached, so the
    refusals below are the host key check and nothing else."""
    kh = tmp_path / "known_hosts"
    kh.write_text("\n".join(known_hosts_lines(ssh_device.host, PORT, rekeyed)) + "\n")
    t = SshTarget("board", SshOptions(host=ssh_device.host, port=PORT, key=str(ssh_device.key), known_hosts=str(kh)))
    try:
        assert t.run(["true"], timeout=30).ok
    finally:
        t.close()


@pytest.mark.parametrize("case", ["changed", "unknown", "dev-null"])
def test_run_refuses_a_changed_or_unknown_host_key(tmp_path, devbench_cmd, ssh_device, adb_target, rekeyed, case):
    old_pub = ssh_device.known_hosts.read_text().split()[1:3]  # the device's real (old) key: type and blob
    kh = tmp_path / "known_hosts"
    if case == "changed":  # the address and port are known, with the key the device had before
        kh.write_text(f"[{ssh_device.host}]:{PORT} {old_pub[0]} {old_pub[1]}\n")
    elif case == "unknown":  # only the other port's entry: this host:port was never seen
        kh.write_text(ssh_device.known_hosts.read_text())
    else:
        kh = Path("/dev/null")
    before = kh.read_bytes()
    workdir = f"/tmp/devbench-hostkey-{case}"
    adb_target.run(["rm", "-rf", workdir], timeout=30)
    res = runs.run([*devbench_cmd, "run", str(config(tmp_path, ssh_device, kh, workdir)), "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    [err] = [e for e in data["errors"] if e["target"] == "board"]
    assert err["kind"] == "connect-failed" and "refusing" in err["message"], err
    assert ("does not match" in err["message"]) == (case == "changed")
    assert data["samples"] == [] and data["targets"][0]["facts"] is None
    assert kh.read_bytes() == before  # nothing learnt: the key is not added, the old one not replaced
    assert not adb_target.run(["test", "-e", workdir], timeout=30).ok  # nothing ran on the device


@pytest.mark.parametrize("opt_out", ["strict_host_key_checking: false", "host_key_policy: auto_add",
                                     "check_host_key: no", "insecure: true", "known_hosts_policy: warn"])
def test_there_is_no_opt_out(tmp_path, devbench_cmd, ssh_device, opt_out):
    cfg = config(tmp_path, ssh_device, ssh_device.known_hosts, "/tmp/devbench-hostkey-optout", extra=", " + opt_out)
    res = runs.run([*devbench_cmd, "run", str(cfg)], capture_output=True, text=True, timeout=60)
    key = opt_out.split(":")[0]
    assert res.returncode == 2 and f"targets[0].ssh.{key}: unknown key" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
