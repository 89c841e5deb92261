"""Real QEMU guests: the feature kernel on the lab rootfs image, reached over adb and SSH.

Slow (TCG, no KVM here): select with ``-m qemu``, leave out with ``-m "not qemu"``.
Every QEMU is started by devbench.qemu and ended by its recorded PID; the tests check that
none is left, by PID and by the run directory in any qemu-system command line.
"""

from __future__ import annotations

import time
from pathlib import Path

import paramiko
import pytest

from devbench.guest.guard import list_tables
from devbench.qemu import BootError, GuestImage, QemuMachine, QemuSpec, check_kvm, guest_image_info
from devlab import AdbServer, procs
from tests.lab.connect_as import NOBODY, connect_as
from tests.lab.qemu_helpers import qemu_pids_mentioning

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(1800)]


# -- fixtures (session scope: they run before the per-test private DEVBENCH_CACHE is set, so
#    the kernels, rootfs and images come from the normal cache) ---------------------------------

def _kernel(arch: str) -> Path:
    from devbench.kernel.build import ensure_kernel

    return Path(ensure_kernel(arch).image)  # a build failure fails the tests: CI builds it first


@pytest.fixture(scope="session")
def x86_kernel(lab_usable: None) -> Path:
    return _kernel("x86_64")


def _assert_gone(m: QemuMachine) -> None:
    assert m.pid is not None
    assert not procs.alive(m.pid), f"timeout wrapper {m.pid} alive"
    if m.qemu_pid is not None:
        assert not procs.alive(m.qemu_pid), f"QEMU {m.qemu_pid} alive"
    assert qemu_pids_mentioning(str(m.run_dir)) == []


def _ssh(m: QemuMachine, known_hosts: Path | None = None) -> paramiko.SSHClient:
    ep = m.ssh
    c = paramiko.SSHClient()
    c.load_host_keys(str(known_hosts or ep.known_hosts))
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(ep.host, port=ep.port, username=ep.user, key_filename=str(ep.key), look_for_keys=False,
              allow_agent=False, timeout=30, banner_timeout=60, auth_timeout=60)
    return c


def _ssh_run(c: paramiko.SSHClient, cmd: str) -> tuple[int, str]:
    _, out, _ = c.exec_command(cmd, timeout=60)
    text = out.read().decode()
    return out.channel.recv_exit_status(), text


# -- tests ----------------------------------------------------------------------------------------

def test_kvm_is_not_used_here() -> None:
    """/dev/kvm on this machine is paravirtual (no vmx/svm): "auto" must pick TCG."""
    if "vmx" in Path("/proc/cpuinfo").read_text() or "svm" in Path("/proc/cpuinfo").read_text():
        pytest.skip("this CPU has hardware virtualisation")
    assert check_kvm() is False
    assert check_kvm("x86_64") is False


def test_x86_64_boot_adb_ssh(adb_server: AdbServer, x86_kernel: Path, x86_guest: GuestImage,
                             run_dir: Path, tmp_path: Path) -> None:
    spec = QemuSpec("x86_64", x86_kernel, x86_guest.image, accel="auto")
    with QemuMachine(spec, run_dir, "x86") as m:
        m.boot()
        print(f"\nx86_64 boot: {m.boot_seconds:.1f} s (total {m.total_boot_seconds:.1f} s, "
              f"{m.attempts} attempt(s)): {m.attempt_log}")
        assert m.accel == "tcg"
        assert m.adb_serial == f"127.0.0.1:{m.adb_port}"
        assert m.console_log is not None and "DEVBENCH-GUEST-READY" in m.console_log.read_text(errors="replace")
        assert procs.alive(m.pid) and m.qemu_pid and procs.alive(m.qemu_pid)

        # only root (this test and its adb server) reaches the forwarded adbd and sshd ports
        assert m.ports_guard == "nftables: uid 0 only", m.ports_guard
        assert m.describe()["ports_guard"] == m.ports_guard
        guard_table = m._guard.table if m._guard else ""
        assert guard_table in list_tables()
        assert connect_as(NOBODY, "127.0.0.1", m.adb_port) == "ConnectionRefusedError"
        assert connect_as(NOBODY, "127.0.0.1", m.ssh_port) == "ConnectionRefusedError"

        # adb, through the private server
        dev = adb_server.connect(m.adb_serial, timeout=60)
        try:
            r = dev.shell2("uname -r", v2=True)
            assert r.returncode == 0 and r.stdout.strip()
            release = r.stdout.strip()
            r = dev.shell2("cat /proc/config.gz | gzip -d | grep ANON_VMA_NAME", v2=True)
            assert r.returncode == 0, r.stderr
            assert "CONFIG_ANON_VMA_NAME=y" in r.stdout.splitlines()
            r = dev.shell2("ip route; stat -c %a /data/local/tmp; hostname", v2=True)
            lines = r.stdout.split("\n")
            assert not any(ln.startswith("default") for ln in lines), r.stdout  # no way out
            assert "1777" in lines and "devbench-x86-64" in lines
        finally:
            adb_server.client().disconnect(m.adb_serial)

        # SSH: RejectPolicy with the written known_hosts
        kh = Path(m.ssh.known_hosts).read_text()
        assert kh.startswith(f"[127.0.0.1]:{m.ssh_port} ssh-ed25519 ")
        c = _ssh(m)
        try:
            assert _ssh_run(c, "uname -r") == (0, release + "\n")
            assert _ssh_run(c, "uname -m") == (0, "x86_64\n")
        finally:
            c.close()
        # a wrong host key is refused
        wrong = tmp_path / "wrong_known_hosts"
        other_key = "AAAAC3NzaC1lZDI1NTE5AAAAIHJ1S7ZBqgUJYbjGUkfImWyXKu2F4zdGJzCzy3SjeC3X"
        wrong.write_text(kh.replace(kh.split()[2], other_key))
        with pytest.raises(paramiko.SSHException):
            _ssh(m, wrong).close()
        m.stop()
        _assert_gone(m)
        assert guard_table not in list_tables()  # the guard went with the guest
        m.stop()  # idempotent
    _assert_gone(m)


def test_wrong_kernel_path_fails_fast(x86_guest: GuestImage, run_dir: Path, tmp_path: Path) -> None:
    spec = QemuSpec("x86_64", tmp_path / "no-such-bzImage", x86_guest.image)
    m = QemuMachine(spec, run_dir, "nokernel")
    t0 = time.monotonic()
    with m, pytest.raises(BootError) as ei:
        m.boot()
    assert time.monotonic() - t0 < 10
    s = str(ei.value)
    assert "\n" not in s
    assert s.startswith("nokernel: boot: QEMU failed: could not open kernel file")
    assert "after 1 attempt;" in s
    assert ei.value.attempts == 1
    _assert_gone(m)


def test_kernel_panic_is_a_boot_error(x86_kernel: Path, x86_guest: GuestImage, run_dir: Path) -> None:
    spec = QemuSpec("x86_64", x86_kernel, x86_guest.image, append="init=/nonexistent", retries=0,
                    boot_timeout_s=120)
    m = QemuMachine(spec, run_dir, "panic")
    t0 = time.monotonic()
    with m, pytest.raises(BootError) as ei:
        m.boot()
    print(f"\npanic detected after {time.monotonic() - t0:.1f} s: {ei.value}")
    e = ei.value
    assert "\n" not in str(e)
    assert str(e).startswith("panic: boot: kernel panic after 1 attempt; console: ")
    assert "Kernel panic" in str(e)
    # 6.12 with an explicit init= says "Requested init /nonexistent failed (error -2)."
    assert any("Requested init /nonexistent failed" in line or "No working init found" in line
               for line in e.console_tail), e.console_tail
    assert 0 < len(e.console_tail) <= 20
    assert e.attempts == 1
    _assert_gone(m)


@pytest.fixture(scope="session")
def arm64_guest(lab_usable: None) -> tuple[Path, GuestImage]:
    """(kernel, image) for arm64 (CI builds both first; a failure here fails the tests)."""
    from devbench.guest.rootfs import ensure_rootfs

    rootfs = ensure_rootfs(arch="arm64")
    kernel = _kernel("arm64")
    return kernel, guest_image_info("arm64", rootfs=rootfs)


def test_arm64_boot_uname(adb_server: AdbServer, arm64_guest: tuple[Path, GuestImage], run_dir: Path) -> None:
    kernel, guest = arm64_guest
    spec = QemuSpec("arm64", kernel, guest.image, boot_timeout_s=300)
    with QemuMachine(spec, run_dir, "arm") as m:
        m.boot()
        print(f"\narm64 boot: {m.boot_seconds:.1f} s (total {m.total_boot_seconds:.1f} s, "
              f"{m.attempts} attempt(s)): {m.attempt_log}")
        dev = adb_server.connect(m.adb_serial, timeout=60)
        try:
            r = dev.shell2("uname -m", v2=True)
            assert (r.returncode, r.stdout) == (0, "aarch64\n")
        finally:
            adb_server.client().disconnect(m.adb_serial)
        c = _ssh(m)
        try:
            assert _ssh_run(c, "uname -m") == (0, "aarch64\n")
        finally:
            c.close()
    _assert_gone(m)


def test_port_clash_picks_new_ports(x86_kernel: Path, x86_guest: GuestImage, run_dir: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the port devbench picked (the race between choosing a free port
    and QEMU binding it): QEMU refuses the forward, and the boot goes on with new ports
    without counting a failed attempt."""
    import socket

    from devbench.qemu import machine

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy = taken.getsockname()[1]
    real = machine._two_ports
    calls: list[tuple[int, int]] = []

    def ports() -> tuple[int, int]:
        pair = (busy, machine.free_port()) if not calls else real()
        calls.append(pair)
        return pair

    monkeypatch.setattr(machine, "_two_ports", ports)
    try:
        with QemuMachine(QemuSpec("x86_64", x86_kernel, x86_guest.image, retries=0), run_dir, "clash") as m:
            m.boot()
            assert len(calls) == 2 and m.adb_port != busy
            assert m.attempt_log[0][1].startswith("port") and m.attempt_log[-1][1] == "ready"
        _assert_gone(m)
    finally:
        taken.close()
