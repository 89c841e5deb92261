"""The lab device's root (adbd gives it to anyone the guard lets in) stays inside the device:
no way back to this machine's files (the device's root is a pivot_root, not a chroot of
this machine's /) and no way to make the shared kernel's /proc writable (CAP_SYS_ADMIN and
the other escape capabilities are out of the device's bounding set). Each attack is run as
the device's root through the real adbd, on the native device and on the arm64 one under
qemu-user. Seen to work before: the chroot escape on both (it found this machine's files);
on the native device `mount -o remount,bind,rw /proc/sys` and a fresh proc mount, which let
it write the host's kernel.core_pattern."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devbench.config import AdbOptions
from devbench.targets.adb import AdbTarget
from devlab.device import DROPPED_CAPS

pytestmark = pytest.mark.lab


@pytest.fixture(params=["amd64", "arm64"])
def dev(request: pytest.FixtureRequest, adb_server) -> Iterator[AdbTarget]:
    """The native lab device, and the arm64 one under qemu-user (its own user namespace, a
    different way into its root), each through devbench's adb transport."""
    serial = request.getfixturevalue("adb_device_serial" if request.param == "amd64" else "adb_device_serial_arm64")
    t = AdbTarget(f"confined-{request.param}", AdbOptions(serial=serial, server_port=adb_server.port))
    yield t
    t.close()

CAP_BITS = {"sys_admin": 21, "sys_module": 16, "sys_rawio": 17, "dac_read_search": 2, "mknod": 27, "bpf": 39,
            "sys_boot": 22, "sys_time": 25, "mac_admin": 33, "mac_override": 32, "audit_control": 30,
            "linux_immutable": 9, "sys_pacct": 20, "perfmon": 38}
KEPT_BITS = {"sys_chroot": 18, "setuid": 7, "setgid": 6, "syslog": 34, "dac_override": 1}


def test_the_device_root_lacks_the_escape_capabilities(dev: AdbTarget) -> None:
    assert set(DROPPED_CAPS) == set(CAP_BITS)
    res = dev.run(["sh", "-c", "grep -E '^Cap(Eff|Bnd):' /proc/self/status"], timeout=30)
    assert res.ok, res
    caps = {k: int(v, 16) for k, v in (line.split(":") for line in res.stdout.splitlines())}
    for name, bit in CAP_BITS.items():
        assert not caps["CapBnd"] >> bit & 1 and not caps["CapEff"] >> bit & 1, name
    for name, bit in KEPT_BITS.items():
        assert caps["CapEff"] >> bit & 1, name  # sshd's privilege separation, perf


def test_the_device_has_an_ipc_namespace_of_its_own(dev: AdbTarget) -> None:
    """Issue 24 item 7: the device kept this machine's IPC namespace (System V shared memory and
    semaphores of every process here)."""
    import os

    res = dev.run(["readlink", "/proc/self/ns/ipc"], timeout=30)
    assert res.ok, res
    assert res.stdout.strip() != os.readlink("/proc/self/ns/ipc")


def test_the_device_root_cannot_make_proc_writable(dev: AdbTarget) -> None:
    host_core = Path("/proc/sys/kernel/core_pattern").read_text()
    attacks = [
        "mount -o remount,bind,rw /proc/sys",
        "mount -o remount,rw /proc/sys",
        "umount -l /proc/sys",
        "mkdir -p /tmp/p && mount -t proc proc /tmp/p",
        "mkdir -p /tmp/b && mount -t binfmt_misc binfmt_misc /tmp/b",
        "mount -t sysfs sysfs /tmp && echo 1 > /tmp/kernel/mm/ksm/run",
    ]
    for attack in attacks:
        res = dev.run(["sh", "-c", attack], timeout=30)
        assert res.exit_code != 0, (attack, res)
    res = dev.run(["sh", "-c", 'echo "|/tmp/evil %p" > /proc/sys/kernel/core_pattern'], timeout=30)
    assert res.exit_code != 0 and "Read-only file system" in res.stderr, res
    res = dev.run(["sh", "-c", "grep ' /proc/sys ' /proc/self/mountinfo"], timeout=30)
    assert res.ok and " ro," in res.stdout, res  # still the read-only bind
    assert Path("/proc/sys/kernel/core_pattern").read_text() == host_core
    dev.run(["rm", "-rf", "/tmp/p", "/tmp/b"], timeout=30)


# chroot into a subfolder, walk up, chroot to where that lands: with a chroot of this machine's
# /, that was this machine's /
_CHROOT_ESCAPE = r"""
mkdir "/tmp/esc$$" or die "mkdir: $!";
chroot("/tmp/esc$$") or die "chroot: $!";
chdir("..") for 1 .. 64;
chroot(".") or die "chroot .: $!";
print((-e $ARGV[0]) ? "HOST-FILE-SEEN\n" : "no host file\n");
print((-e "/sbin/devbench-init") ? "device root\n" : "not the device root\n");
"""


def test_the_device_root_cannot_leave_its_root(dev: AdbTarget, tmp_path: Path) -> None:
    canary = tmp_path / "host-canary"
    canary.write_text("on this machine only\n")
    res = dev.run(["perl", "-e", _CHROOT_ESCAPE, str(canary)], timeout=30)
    assert res.ok, res
    assert res.stdout.splitlines() == ["no host file", "device root"]
    res = dev.run(["sh", "-c", "grep -c devbench-oldroot /proc/self/mountinfo; ls -a /"], timeout=30)
    assert res.stdout.splitlines()[0] == "0" and ".devbench-oldroot" not in res.stdout, res
    dev.run(["sh", "-c", "rmdir /tmp/esc*"], timeout=30)
