"""The lab device's root (adbd gives it to anyone the guard lets in) stays inside the device:
no way back to this machine's files (the device's root is a pivot_root, not a chroot of
this machine's /) and no way to make the shared kernel's /proc writable (CAP_SYS_ADMIN and
the other escape capabilities are out of the device's bounding set). Each attack is run as
the device's root through the real adbd; each was seen to work before (a chroot escape read
this machine's files; `mount -o remount,bind,rw /proc/sys` and a fresh proc mount let it
write the host's kernel.core_pattern)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.lab import LabDevice
from devbench.lab.device import DROPPED_CAPS

pytestmark = pytest.mark.lab

CAP_BITS = {"sys_admin": 21, "sys_module": 16, "sys_rawio": 17, "dac_read_search": 2, "mknod": 27, "bpf": 39,
            "sys_boot": 22, "sys_time": 25, "mac_admin": 33, "mac_override": 32, "audit_control": 30,
            "linux_immutable": 9, "sys_pacct": 20}
KEPT_BITS = {"sys_chroot": 18, "setuid": 7, "setgid": 6, "perfmon": 38, "syslog": 34, "dac_override": 1}


def test_the_device_root_lacks_the_escape_capabilities(adb_target, lab_device: LabDevice) -> None:
    assert set(DROPPED_CAPS) == set(CAP_BITS)
    res = adb_target.run(["sh", "-c", "grep -E '^Cap(Eff|Bnd):' /proc/self/status"], timeout=30)
    assert res.ok, res
    caps = {k: int(v, 16) for k, v in (line.split(":") for line in res.stdout.splitlines())}
    for name, bit in CAP_BITS.items():
        assert not caps["CapBnd"] >> bit & 1 and not caps["CapEff"] >> bit & 1, name
    for name, bit in KEPT_BITS.items():
        assert caps["CapEff"] >> bit & 1, name  # sshd's privilege separation, perf


def test_the_device_root_cannot_make_proc_writable(adb_target, lab_device: LabDevice) -> None:
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
        res = adb_target.run(["sh", "-c", attack], timeout=30)
        assert res.exit_code != 0, (attack, res)
    res = adb_target.run(["sh", "-c", 'echo "|/tmp/evil %p" > /proc/sys/kernel/core_pattern'], timeout=30)
    assert res.exit_code != 0 and "Read-only file system" in res.stderr, res
    res = adb_target.run(["sh", "-c", "grep ' /proc/sys ' /proc/self/mountinfo"], timeout=30)
    assert res.ok and " ro," in res.stdout, res  # still the read-only bind
    assert Path("/proc/sys/kernel/core_pattern").read_text() == host_core
    adb_target.run(["rm", "-rf", "/tmp/p", "/tmp/b"], timeout=30)


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


def test_the_device_root_cannot_leave_its_root(adb_target, lab_device: LabDevice, tmp_path: Path) -> None:
    canary = tmp_path / "host-canary"
    canary.write_text("on this machine only\n")
    res = adb_target.run(["perl", "-e", _CHROOT_ESCAPE, str(canary)], timeout=30)
    assert res.ok, res
    assert res.stdout.splitlines() == ["no host file", "device root"]
    res = adb_target.run(["sh", "-c", "grep -c devbench-oldroot /proc/self/mountinfo; ls -a /"], timeout=30)
    assert res.stdout.splitlines()[0] == "0" and ".devbench-oldroot" not in res.stdout, res
    adb_target.run(["sh", "-c", "rmdir /tmp/esc*"], timeout=30)
