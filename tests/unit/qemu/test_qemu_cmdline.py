"""Pure parts of devbench.qemu: the QEMU command line, console classification, BootError."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.errors import TargetError
from devbench.qemu import BootError, QemuSpec, classify_console, qemu_command
from devbench.qemu.errors import meaningful_line
from devbench.qemu.image import guest_init_script, guest_sshd_config
from devbench.qemu.machine import console_lines, console_tail, kernel_args

K = Path("/k/bzImage")
IMG = Path("/c/rootfs.ext4")


def _opt(cmd: list[str], flag: str) -> list[str]:
    """Every value that follows ``flag`` in the command."""
    return [cmd[i + 1] for i, a in enumerate(cmd[:-1]) if a == flag]


def _cmd(arch: str = "x86_64", **kw: object) -> list[str]:
    spec = QemuSpec(arch, K, IMG, **kw)  # type: ignore[arg-type]
    return qemu_command(spec, adb_port=40001, ssh_port=40002, console_log=Path("/run/d/console-g-1.log"))


@pytest.mark.parametrize("arch,binary,console,machine", [
    ("x86_64", "qemu-system-x86_64", "console=ttyS0", "q35"),
    ("arm64", "qemu-system-aarch64", "console=ttyAMA0", "virt"),
])
def test_command_per_arch(arch: str, binary: str, console: str, machine: str) -> None:
    cmd = _cmd(arch)
    assert cmd[0] == binary
    assert _opt(cmd, "-M") == [machine]
    assert _opt(cmd, "-accel") == ["tcg,thread=multi"]
    (append,) = _opt(cmd, "-append")
    args = append.split()
    assert console in args
    assert "panic=-1" in args and "root=/dev/vda" in args and "rw" in args
    assert "init=/sbin/devbench-guest-init" in args
    assert "-no-reboot" in cmd
    assert _opt(cmd, "-kernel") == [str(K)]
    assert _opt(cmd, "-m") == ["4096"] and _opt(cmd, "-smp") == ["2"]
    if arch == "arm64":
        assert _opt(cmd, "-cpu") == ["max,pauth-impdef=on"]
    else:
        assert _opt(cmd, "-cpu") == ["max"]


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_disk_is_never_written(arch: str) -> None:
    (drive,) = _opt(_cmd(arch), "-drive")
    parts = drive.split(",")
    assert f"file={IMG}" in parts and "format=raw" in parts and "snapshot=on" in parts


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_network_is_restricted_and_forwards_to_loopback_only(arch: str) -> None:
    cmd = _cmd(arch)
    (netdev,) = _opt(cmd, "-netdev")
    parts = netdev.split(",")
    assert parts[0] == "user" and "restrict=on" in parts
    fwds = [p.split("=", 1)[1] for p in parts if p.startswith("hostfwd=")]
    assert fwds == ["tcp:127.0.0.1:40001-10.0.2.15:5555", "tcp:127.0.0.1:40002-10.0.2.15:22"]
    assert any(d.startswith("virtio-net-pci,netdev=n0") for d in _opt(cmd, "-device"))
    assert "-nic" not in cmd and "-net" not in cmd


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_console_goes_to_the_log_file(arch: str) -> None:
    cmd = _cmd(arch)
    assert _opt(cmd, "-chardev") == ["file,id=c0,path=/run/d/console-g-1.log"]
    assert _opt(cmd, "-serial") == ["chardev:c0"]
    assert _opt(cmd, "-monitor") == ["none"]
    assert "-nodefaults" in cmd  # no other serial port, monitor, VGA or NIC


def test_spec_options_reach_the_command() -> None:
    cmd = _cmd(memory_mb=2048, cpus=4, append="init=/nonexistent foo=1")
    assert _opt(cmd, "-m") == ["2048"] and _opt(cmd, "-smp") == ["4"]
    args = _opt(cmd, "-append")[0].split()
    # the caller's init= comes after devbench's: the kernel takes the last one
    assert args.index("init=/nonexistent") > args.index("init=/sbin/devbench-guest-init")
    assert args[-1] == "foo=1"


def test_accel() -> None:
    assert _opt(_cmd(accel="auto"), "-accel") == ["tcg,thread=multi"]  # auto is resolved by QemuMachine
    spec = QemuSpec("x86_64", K, IMG, accel="kvm")
    cmd = qemu_command(spec, adb_port=1, ssh_port=2, console_log="/x")
    assert _opt(cmd, "-accel") == ["kvm"] and _opt(cmd, "-cpu") == ["host"]
    cmd = qemu_command(spec, adb_port=1, ssh_port=2, console_log="/x", accel="tcg")
    assert _opt(cmd, "-accel") == ["tcg,thread=multi"]


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_clock_icount_counts_instructions_on_one_thread(arch: str) -> None:
    cmd = _cmd(arch, clock="icount")
    assert _opt(cmd, "-accel") == ["tcg,thread=single"]
    assert _opt(cmd, "-icount") == ["shift=0,align=off,sleep=off"]
    assert "-icount" not in _cmd(arch)  # clock: real (the default) keeps multi-threaded TCG
    assert _opt(_cmd(arch, clock="icount", accel="auto"), "-accel") == ["tcg,thread=single"]


def test_clock_icount_resolves_auto_to_tcg() -> None:
    from devbench.qemu.machine import resolve_accel

    assert resolve_accel(QemuSpec("x86_64", K, IMG, accel="auto", clock="icount")) == "tcg"


@pytest.mark.parametrize("bad", [dict(arch="riscv64"), dict(accel="hvf"), dict(retries=-1),
                                 dict(clock="virtual"), dict(clock="icount", accel="kvm"),
                                 dict(boot_timeout_s=10, hard_timeout_s=5)])
def test_spec_validation(bad: dict[str, object]) -> None:
    kw: dict[str, object] = dict(arch="x86_64", kernel=K, image=IMG)
    kw.update(bad)
    with pytest.raises(ValueError):
        QemuSpec(**kw)  # type: ignore[arg-type]


def test_kernel_args_quiet_and_panic() -> None:
    args = kernel_args(QemuSpec("arm64", K, IMG)).split()
    assert args[:2] == ["console=ttyAMA0", "root=/dev/vda"]
    assert "panic=-1" in args and "quiet" in args and "rootfstype=ext4" in args


# -- console classification -----------------------------------------------------------------

READY_LOG = """\
[    0.000000] Linux version 6.12.43 (root@host) #1 SMP
devbench-guest-init: starting
devbench-guest-init: eth0 10.0.2.15 sshd pid 80 adbd pid 81
DEVBENCH-GUEST-READY
"""

PANIC_LOG = """\
[    1.052301] Run /nonexistent as init process
[    1.058001] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.
[    1.058290] CPU: 0 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.12.43 #1
[    1.058800] ---[ end Kernel panic - not syncing: No working init found. ]---
"""

INT3_LOG = """\
[    0.512345] int3: 0000 [#1] PREEMPT SMP NOPTI
[    0.512400] RIP: 0010:sched_clock_cpu+0x10/0x1a0
[    0.513000] Kernel panic - not syncing: Fatal exception in interrupt
"""

FAILED_LOG = """\
devbench-guest-init: starting
DEVBENCH-GUEST-FAILED: no network interface (virtio-net driver missing?)
"""


@pytest.mark.parametrize("text,expected", [
    ("", None),
    ("[    0.000000] Linux version 6.12\r\n[    0.1] Booting\r\n", None),
    (READY_LOG, "ready"),
    (READY_LOG.replace("\n", "\r\n"), "ready"),
    ("DEVBENCH-GUEST-READ", None),                      # partial line: not yet
    ("echo DEVBENCH-GUEST-READY > /dev/console\n", None),  # not the marker line itself
    (PANIC_LOG, "panic"),
    (INT3_LOG, "panic"),
    (FAILED_LOG, "failed"),
    (READY_LOG + PANIC_LOG, "panic"),                   # a panic after ready still counts
    ("\x1b[0mDEVBENCH-GUEST-FAILED: sshd exited\r\n", "failed"),
])
def test_classify_console(text: str, expected: str | None) -> None:
    assert classify_console(text) == expected


def test_console_lines_strip_control_bytes() -> None:
    assert console_lines("a\r\nb\x1b[2Jc\x07\rd") == ["a", "bc", "d"]
    # what SeaBIOS sends before the kernel: ESC c (reset), ESC [?7l, ESC [2J
    assert console_lines("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)") == ["", "SeaBIOS (version 1.16.2)"]
    # ... and no newline before the kernel's first line
    glued = "Booting from ROM..\x1bc\x1b[?7l\x1b[2J[    2.46] Kernel panic - not syncing: x.\r\n"
    assert console_lines(glued) == ["Booting from ROM..", "[    2.46] Kernel panic - not syncing: x.", ""]
    assert str(BootError("kernel panic", console_tail(glued), 1, name="g")).endswith(
        "; console: Kernel panic - not syncing: x.")
    assert console_tail("\n".join(str(i) for i in range(50)) + "\n\n\n", 5) == ["45", "46", "47", "48", "49"]


# -- BootError --------------------------------------------------------------------------------

def test_boot_error_is_one_line_with_the_panic() -> None:
    tail = console_tail(PANIC_LOG)
    e = BootError("kernel panic", tail, 1, name="x86")
    s = str(e)
    assert "\n" not in s
    assert s.startswith("x86: boot: kernel panic after 1 attempt; console: ")
    assert "No working init found" in s
    assert e.console_tail == tail and e.attempts == 1
    assert isinstance(e, TargetError) and e.target == "x86" and e.step == "boot"


def test_boot_error_plural_multiline_reason_and_empty_console() -> None:
    e = BootError("QEMU failed:\nsomething\n  bad", [], 3, name="g")
    assert str(e) == "g: boot: QEMU failed: something bad after 3 attempts; console: (empty)"


def test_boot_error_picks_failed_line_over_later_noise() -> None:
    tail = console_tail(FAILED_LOG + "sshd.log: fatal: bad config\n[  3.1]\n")
    assert "DEVBENCH-GUEST-FAILED: no network interface" in str(BootError("guest init failed", tail, 2))


def test_meaningful_line() -> None:
    assert meaningful_line(["Booting", "   ", "[    1.000]", "---"]) == "Booting"
    assert meaningful_line(["x" * 500]).endswith("...")
    assert meaningful_line([]) == ""


# -- generated guest files ----------------------------------------------------------------------

def test_guest_init_script_essentials() -> None:
    s = guest_init_script()
    assert s.startswith("#!/bin/sh\n")
    for needle in ("mount -t proc", "devtmpfs", "ptmxmode=0666", "/run/sshd", "10.0.2.15/24",
                   "ADBD_PORT=5555 /usr/lib/android-sdk/platform-tools/adbd", "/usr/sbin/sshd -D -e",
                   'echo "DEVBENCH-GUEST-READY"', "DEVBENCH-GUEST-FAILED", "reboot -f", "1777"):
        assert needle in s, needle
    assert "{" not in s.replace("${", "").replace("() {", "").replace("|| {", "")  # fully formatted


def test_guest_sshd_config() -> None:
    c = guest_sshd_config()
    assert "Port 22\n" in c and "UsePAM no\n" in c and "PermitRootLogin prohibit-password\n" in c
    assert "PasswordAuthentication no\n" in c
