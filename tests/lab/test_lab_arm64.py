"""Real tests of the arm64 lab device: an arm64 trixie rootfs whose adbd and sshd run under
qemu-aarch64 through a PRIVATE binfmt_misc (the host's binfmt_misc is never changed)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from devbench.cache import marker_path
from devbench.config import BuildConfig
from devbench.guest.keys import known_hosts_lines, write_ed25519
from devbench.guest.rootfs import ADBD_PATH
from devlab import AdbServer, LabDevice, SshEndpoint, ensure_rootfs, procs, rootfs_path
from devlab.emulated import EmulatedLabDevice, host_binfmt_entries, lab_device_for, rootfs_arch
from devlab.netns import list_netns

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]  # the first run builds the arm64 rootfs under qemu-user
AF_VSOCK = 40
EM_AARCH64 = 0xB7


def _adb(adb_server: AdbServer, serial: str):  # noqa: ANN202
    return adb_server.client().device(serial)


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return int.from_bytes(head[18:20], "little")


def _ssh(ep: SshEndpoint, known_hosts: Path) -> paramiko.SSHClient:
    c = paramiko.SSHClient()
    c.load_host_keys(str(known_hosts))
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(ep.host, port=ep.port, username=ep.user, key_filename=str(ep.key),
              look_for_keys=False, allow_agent=False, timeout=20, banner_timeout=20, auth_timeout=20)
    return c


def _run(c: paramiko.SSHClient, cmd: str) -> tuple[int, str]:
    _, out, _ = c.exec_command(cmd, timeout=60)
    text = out.read().decode()
    return out.channel.recv_exit_status(), text


# -- rootfs --------------------------------------------------------------------------------

def test_arm64_rootfs_built_and_cached(lab_rootfs_arm64: Path) -> None:
    root = lab_rootfs_arm64
    cache = root.parent  # the session fixture ran before tests/conftest.py's private DEVBENCH_CACHE
    assert root == rootfs_path("arm64", cache) and root != rootfs_path("amd64", cache)
    assert root.name.startswith("rootfs-trixie-arm64-")
    info = json.loads(marker_path(root).read_text())
    assert info["arch"] == "arm64"
    assert rootfs_arch(root) == "arm64"
    assert _elf_machine(root / ADBD_PATH.lstrip("/")) == EM_AARCH64
    assert (root / "usr/sbin/sshd").exists()
    assert not (root / "usr/bin/qemu-aarch64-static").exists()  # F flag: no qemu copied in
    t0 = time.monotonic()
    assert ensure_rootfs(arch="arm64", cache_dir=cache) == root  # cached: no build
    assert time.monotonic() - t0 < 1.0


def test_host_binfmt_unchanged(host_binfmt_before: list[str], lab_rootfs_arm64: Path,
                               lab_device_arm64: LabDevice) -> None:
    after = host_binfmt_entries()
    assert after == host_binfmt_before
    assert "qemu-aarch64" not in after
    # the host itself cannot run aarch64 binaries (no registration leaked out)
    if "qemu-aarch64" not in host_binfmt_before:
        with pytest.raises(OSError) as ei:
            subprocess.run([str(lab_rootfs_arm64 / "usr/bin/true")], capture_output=True, timeout=30)
        assert ei.value.errno == 8  # ENOEXEC: Exec format error


# -- the arm64 device ----------------------------------------------------------------------

def test_arm64_device_runs_in_private_user_namespace(lab_device_arm64: LabDevice) -> None:
    host_userns = os.readlink("/proc/self/ns/user")
    inner = [p for p in lab_device_arm64.pids if procs.alive(p)]
    assert len(inner) >= 4  # unshare, init, sshd, adbd
    namespaces = {p: os.readlink(f"/proc/{p}/ns/user") for p in inner}
    assert namespaces[inner[0]] == host_userns  # the unshare launcher
    assert all(ns != host_userns for p, ns in namespaces.items() if p != inner[0]), namespaces
    # the device's processes are qemu-aarch64-static running the rootfs's own binaries
    exes = {os.readlink(f"/proc/{p}/exe") for p in inner[1:]}
    assert exes == {"/usr/bin/qemu-aarch64-static"}, exes
    assert lab_device_arm64.describe()["arch"] == "arm64"


def test_uname_m_aarch64(adb_server: AdbServer, adb_device_serial_arm64: str) -> None:
    r = _adb(adb_server, adb_device_serial_arm64).shell2("uname -m", v2=True)
    assert r.returncode == 0 and r.stdout.strip() == "aarch64"


def test_private_binfmt_visible_inside(adb_server: AdbServer, adb_device_serial_arm64: str) -> None:
    r = _adb(adb_server, adb_device_serial_arm64).shell2("cat /proc/sys/fs/binfmt_misc/qemu-aarch64", v2=True)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "enabled" and "interpreter /usr/bin/qemu-aarch64-static" in lines
    assert any(line.startswith("flags: ") and "F" in line for line in lines)


def test_shell_v2_exit_code_and_stderr(adb_server: AdbServer, adb_device_serial_arm64: str) -> None:
    r = _adb(adb_server, adb_device_serial_arm64).shell2("sh -c 'echo out; echo err >&2; exit 7'", v2=True)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")


def test_push_pull_checksum(adb_server: AdbServer, adb_device_serial_arm64: str, tmp_path: Path) -> None:
    dev = _adb(adb_server, adb_device_serial_arm64)
    data = os.urandom(1024 * 1024 + 13)
    src, back = tmp_path / "data.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    remote = "/data/local/tmp/devbench-arm64-push.bin"
    dev.sync.push(str(src), remote)
    r = dev.shell2(f"sha256sum {remote}", v2=True)
    assert r.returncode == 0 and r.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    dev.sync.pull(remote, str(back))
    assert back.read_bytes() == data
    assert dev.shell2(f"rm {remote}", v2=True).returncode == 0


def test_pushed_static_aarch64_payload_runs(adb_server: AdbServer, adb_device_serial_arm64: str) -> None:
    from devbench.payload import build as payload

    built = payload.build("aarch64", BuildConfig())
    assert _elf_machine(built.path) == EM_AARCH64
    dev = _adb(adb_server, adb_device_serial_arm64)
    remote = "/data/local/tmp/forkbench-arm64-test"
    dev.sync.push(str(built.path), remote)
    assert dev.shell2(f"chmod 755 {remote}", v2=True).returncode == 0
    r = dev.shell2(f"{remote} --version", v2=True)
    assert r.returncode == 0, r
    event = json.loads(r.stdout.strip().splitlines()[-1])
    assert event["event"] == "version" and isinstance(event["payload_version"], int)
    assert dev.shell2(f"rm {remote}", v2=True).returncode == 0


def test_no_vsock_socket_on_arm64_device(lab_device_arm64: LabDevice) -> None:
    families = {pid: procs.socket_families(pid) for pid in lab_device_arm64.pids}
    assert any(2 in f or 10 in f for f in families.values())  # AF_INET / AF_INET6 seen
    assert not [pid for pid, f in families.items() if AF_VSOCK in f], families


# -- ssh -----------------------------------------------------------------------------------

def test_ssh_with_known_hosts(lab_device_arm64: LabDevice) -> None:
    ep = lab_device_arm64.ssh()
    assert ep.known_hosts.read_text().startswith(f"[{ep.host}]:{ep.port} ssh-ed25519 AAAA")
    with _ssh(ep, ep.known_hosts) as c:
        assert _run(c, "echo hi; id -u; uname -m") == (0, "hi\n0\naarch64\n")


def test_ssh_wrong_host_key_refused(lab_device_arm64: LabDevice, tmp_path: Path) -> None:
    ep = lab_device_arm64.ssh()
    other = write_ed25519(tmp_path / "other_host_key", "wrong")
    wrong = tmp_path / "known_hosts"
    wrong.write_text("\n".join(known_hosts_lines(ep.host, ep.port, other)) + "\n")
    with pytest.raises(paramiko.SSHException):
        _ssh(ep, wrong)


# -- choice of device class, teardown --------------------------------------------------------

def test_lab_device_for_picks_by_arch(lab_rootfs_arm64: Path, lab_rootfs: Path) -> None:
    dev = lab_device_for(lab_rootfs_arm64)
    assert isinstance(dev, EmulatedLabDevice) and dev.arch == "arm64"
    native = lab_device_for(lab_rootfs)
    assert type(native) is LabDevice


def test_arm64_stop_leaves_nothing(lab_rootfs_arm64: Path) -> None:
    dev = EmulatedLabDevice(lab_rootfs_arm64, ssh_port=22)  # below 1024: needs the netns sysctl
    dev.start()
    try:
        assert dev.startup_seconds is not None and dev.startup_seconds < 60
        pids, netns, workdir = list(dev.pids), dev.netns, dev.workdir
        assert len(pids) >= 4 and all(procs.alive(p) for p in pids)
        assert netns in list_netns()
        with _ssh(dev.ssh(), dev.known_hosts) as c:  # type: ignore[arg-type]
            assert _run(c, "uname -m") == (0, "aarch64\n")
        assert str(workdir) not in Path("/proc/self/mountinfo").read_text()
    finally:
        dev.stop()
    assert [p for p in pids if procs.alive(p)] == []
    assert netns not in list_netns()
    assert workdir is not None and not workdir.exists()
    dev.stop()  # idempotent
