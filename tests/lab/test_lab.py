"""Real tests against the lab's real adbd and sshd (Debian trixie rootfs in a network namespace)."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from devbench.guest.keys import known_hosts_lines, write_ed25519
from devlab import AdbServer, LabDevice, SshEndpoint, procs
from devlab.netns import list_netns

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]
AF_VSOCK = 40


def _adb(adb_server: AdbServer, serial: str):  # noqa: ANN202
    return adb_server.client().device(serial)


# -- adb -----------------------------------------------------------------------------------

def test_shell_v2_exit_code_and_stderr(adb_server: AdbServer, adb_device_serial: str) -> None:
    r = _adb(adb_server, adb_device_serial).shell2("sh -c 'echo out; echo err >&2; exit 7'", v2=True)
    assert r.returncode == 7
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_push_pull_checksum(adb_server: AdbServer, adb_device_serial: str, tmp_path: Path) -> None:
    dev = _adb(adb_server, adb_device_serial)
    data = os.urandom(3 * 1024 * 1024 + 17)
    src, back = tmp_path / "payload.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    remote = "/data/local/tmp/devbench-push-test.bin"
    dev.sync.push(str(src), remote)
    r = dev.shell2(f"sha256sum {remote}", v2=True)
    assert r.returncode == 0
    assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    dev.sync.pull(remote, str(back))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert dev.shell2(f"rm {remote}", v2=True).returncode == 0


def test_getprop_absent(adb_server: AdbServer, adb_device_serial: str) -> None:
    r = _adb(adb_server, adb_device_serial).shell2("getprop ro.build.version.sdk", v2=True)
    assert r.returncode == 127  # a Linux device, not Android
    assert "not found" in r.stderr


def test_uname_m(adb_server: AdbServer, adb_device_serial: str) -> None:
    r = _adb(adb_server, adb_device_serial).shell2("uname -m", v2=True)
    assert r.returncode == 0 and r.stdout.strip() == platform.machine()


def test_device_layout(adb_server: AdbServer, adb_device_serial: str) -> None:
    dev = _adb(adb_server, adb_device_serial)
    r = dev.shell2("stat -c %a /data/local/tmp /tmp; id -u; test -c /dev/null && test -e /dev/ptmx && echo devok",
                   v2=True)
    assert r.stdout.split() == ["1777", "1777", "0", "devok"], r


def test_private_adb_server(adb_server: AdbServer, adb_device_serial: str) -> None:
    assert adb_server.port != 5037
    assert os.environ["ANDROID_ADB_SERVER_PORT"] == str(adb_server.port)
    assert adb_server.home is not None and adb_server.home.is_dir() and adb_server.home != Path.home()
    assert adb_device_serial in [d.serial for d in adb_server.client().list()]
    # the server listens on loopback only
    assert AF_VSOCK not in procs.socket_families(adb_server.pid or 0)


# -- vsock ---------------------------------------------------------------------------------

def test_no_vsock_socket_on_device(lab_device: LabDevice) -> None:
    families = {pid: procs.socket_families(pid) for pid in lab_device.pids}
    assert any(socket.AF_INET in f or socket.AF_INET6 in f for f in families.values())  # the probe sees sockets
    assert not [pid for pid, f in families.items() if AF_VSOCK in f], families


def test_vsock_filter_refuses_af_vsock() -> None:
    import devlab

    helper = Path(devlab.__file__).with_name("_novsock.py")  # the lab's seccomp wrapper
    assert helper.is_file(), helper
    code = ("import socket\n"
            "try:\n socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); print('created')\n"
            "except OSError as e: print(e.errno)\n"
            "socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(); print('inet ok')\n")
    out = subprocess.run([sys.executable, str(helper), sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["97", "inet", "ok"], out  # EAFNOSUPPORT


# -- ssh -----------------------------------------------------------------------------------

def _ssh(ep: SshEndpoint, known_hosts: Path) -> paramiko.SSHClient:
    c = paramiko.SSHClient()
    c.load_host_keys(str(known_hosts))
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(ep.host, port=ep.port, username=ep.user, key_filename=str(ep.key),
              look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10)
    return c


def _run(c: paramiko.SSHClient, cmd: str) -> tuple[int, str]:
    _, out, _ = c.exec_command(cmd, timeout=20)
    text = out.read().decode()
    return out.channel.recv_exit_status(), text


def test_known_hosts_bracket_form(ssh_device: SshEndpoint) -> None:
    first = ssh_device.known_hosts.read_text().splitlines()[0]
    assert first.startswith(f"[{ssh_device.host}]:{ssh_device.port} ssh-ed25519 AAAA")


def test_ssh_with_known_hosts(ssh_device: SshEndpoint) -> None:
    with _ssh(ssh_device, ssh_device.known_hosts) as c:
        assert _run(c, "echo hi; id -u; uname -m") == (0, f"hi\n0\n{platform.machine()}\n")


def test_ssh_empty_known_hosts_refused(ssh_device: SshEndpoint, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException):
        _ssh(ssh_device, empty)


def test_ssh_wrong_host_key_refused(ssh_device: SshEndpoint, tmp_path: Path) -> None:
    other = write_ed25519(tmp_path / "other_host_key", "wrong")
    wrong = tmp_path / "known_hosts"
    wrong.write_text("\n".join(known_hosts_lines(ssh_device.host, ssh_device.port, other)) + "\n")
    with pytest.raises(paramiko.SSHException):
        _ssh(ssh_device, wrong)


def test_ssh_wrong_client_key_refused(ssh_device: SshEndpoint, tmp_path: Path) -> None:
    write_ed25519(tmp_path / "id_other", "other")
    ep = SshEndpoint(ssh_device.host, ssh_device.port, ssh_device.user, tmp_path / "id_other",
                     ssh_device.known_hosts)
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(ep, ep.known_hosts)


# -- several devices, teardown -------------------------------------------------------------

def test_two_devices_separate_files(lab_rootfs: Path, lab_device: LabDevice, adb_server: AdbServer,
                                    adb_device_serial: str) -> None:
    with LabDevice(lab_rootfs, ssh_port=22) as second:
        assert second.netns != lab_device.netns and second.address != lab_device.address
        adb_server.connect(second.adb_serial)
        a, b = _adb(adb_server, adb_device_serial), _adb(adb_server, second.adb_serial)
        f = "/data/local/tmp/devbench-which-device"
        assert a.shell2(f"echo first > {f}", v2=True).returncode == 0
        assert b.shell2(f"test -e {f}", v2=True).returncode == 1  # not visible on the other device
        assert b.shell2(f"echo second > {f}", v2=True).returncode == 0
        assert a.shell2(f"cat {f}", v2=True).stdout == "first\n"
        assert b.shell2(f"cat {f}", v2=True).stdout == "second\n"
        assert not (lab_rootfs / f.lstrip("/")).exists()  # the shared rootfs stays untouched
        # sshd on port 22 (the session device uses 2222), through its own known_hosts
        assert second.known_hosts.read_text().splitlines()[0].startswith(f"[{second.address}]:22 ssh-ed25519 ")
        with _ssh(second.ssh(), second.known_hosts) as c:
            assert _run(c, f"cat {f}") == (0, "second\n")
        assert a.shell2(f"rm {f}", v2=True).returncode == 0
        adb_server.client().disconnect(second.adb_serial)


def test_stop_leaves_nothing(lab_rootfs: Path) -> None:
    dev = LabDevice(lab_rootfs)
    dev.start()
    assert dev.startup_seconds is not None and dev.startup_seconds < 10
    pids, netns, workdir, host_if = list(dev.pids), dev.netns, dev.workdir, f"dbl{dev.netns.split('-')[-1]}h"
    assert len(pids) >= 4 and all(procs.alive(p) for p in pids)  # unshare, init, sshd, adbd
    assert netns in list_netns()
    # the overlay, proc, devpts, tmpfs mounts live in the device's own mount namespace only
    assert str(workdir) not in Path("/proc/self/mountinfo").read_text()
    dev.stop()
    assert [p for p in pids if procs.alive(p)] == []
    assert netns not in list_netns()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert f" {host_if}@" not in links and f" {host_if}:" not in links
    assert workdir is not None and not workdir.exists()
    assert str(workdir) not in Path("/proc/self/mountinfo").read_text()
    dev.stop()  # idempotent


def test_failed_start_raises_and_cleans_up(lab_usable: None, tmp_path: Path) -> None:
    from devlab import LabError

    before = set(list_netns())
    dev = LabDevice(tmp_path / "no-such-rootfs", ready_timeout=5)
    with pytest.raises(LabError) as ei:
        dev.start()
    assert ei.value.step == "ready" and "overlay" in ei.value.detail  # the mount error, from the log
    assert set(list_netns()) == before
    assert dev.workdir is None
