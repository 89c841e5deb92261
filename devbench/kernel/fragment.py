"""The kernel config fragment devbench needs, as data.

Every option says *why* it is there, in one of three classes, so a checker can tell a user
"missing for the benchmark" apart from "missing to boot in devbench's QEMU":

- ``benchmark``: the feature the benchmark measures (``ANON_VMA_NAME``: without it
  ``prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)`` fails with EINVAL).
- ``perf``: what ``perf`` needs in the guest (events, kernel symbols).
- ``boot``: what the guest needs in devbench's QEMU: boot, console, disk, network, the
  syscalls adbd/sshd use, and ``/proc/config.gz`` (devbench reads it to check a device).

:data:`REQUIRED` holds the options that must be ``y`` (checked on any kernel by
:func:`devbench.kernel.kconfig.check_config`). :data:`BUILD_SETTINGS` holds what devbench's own
build recipe also sets on top of ``allnoconfig``: the machine, the userspace and the drivers of
devbench's QEMU guest, modules off, no debug info. Those are not requirements: a stock kernel
with modules is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Arch = Literal["x86_64", "arm64"]
ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")
Why = Literal["benchmark", "perf", "boot"]
_BOTH: tuple[Arch, ...] = ARCHES


@dataclass(frozen=True)
class Option:
    """One kernel config symbol (without the ``CONFIG_`` prefix) and the value devbench wants."""

    name: str
    value: str  # "y", "n", or a kconfig literal such as '"-devbench"'
    why: Why
    reason: str
    arches: tuple[Arch, ...] = _BOTH

    def line(self) -> str:
        if self.value == "n":
            return f"# CONFIG_{self.name} is not set"
        return f"CONFIG_{self.name}={self.value}"


def _req(name: str, why: Why, reason: str, arches: tuple[Arch, ...] = _BOTH) -> Option:
    return Option(name, "y", why, reason, arches)


_X86: tuple[Arch, ...] = ("x86_64",)
_ARM: tuple[Arch, ...] = ("arm64",)

# Options that must be =y. Order is the order of fragment_text().
_REQUIRED_ALL: tuple[Option, ...] = (
    # --- benchmark
    _req("ANON_VMA_NAME", "benchmark",
         "prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME) names anonymous VMAs; the named arm needs it"),
    _req("ADVISE_SYSCALLS", "benchmark", "ANON_VMA_NAME depends on it (madvise/fadvise)"),
    # --- perf
    _req("PERF_EVENTS", "perf", "perf_event_open(2): perf record/stat in the guest"),
    _req("KALLSYMS", "perf", "kernel symbols in /proc/kallsyms for perf"),
    _req("KALLSYMS_ALL", "perf", "data symbols too, so perf can name every kernel address"),
    _req("ARM_PMUV3", "perf", "hardware PMU events (QEMU -cpu max emulates PMUv3)", _ARM),
    # --- boot: disk, filesystems
    _req("BLK_DEV_INITRD", "boot", "QEMU -initrd works (an initramfs may be used)"),
    _req("DEVTMPFS", "boot", "/dev is populated by the kernel (no udev in the guest)"),
    _req("DEVTMPFS_MOUNT", "boot", "devtmpfs is mounted on /dev before init runs"),
    _req("PROC_FS", "boot", "/proc (also where named VMAs show in /proc/PID/maps)"),
    _req("SYSFS", "boot", "/sys"),
    _req("TMPFS", "boot", "/tmp, /run and /dev/shm"),
    _req("EXT4_FS", "boot", "the root disk image is ext4 (root=/dev/vda)"),
    # --- boot: virtio devices
    _req("PCI", "boot", "virtio devices sit on PCI(e) in QEMU"),
    _req("PCI_HOST_GENERIC", "boot", "the PCIe host bridge of QEMU -M virt (ECAM)", _ARM),
    _req("VIRTIO", "boot", "virtio core"),
    _req("VIRTIO_PCI", "boot", "virtio-blk/net/console as PCI devices"),
    _req("VIRTIO_MMIO", "boot", "virtio-mmio transport of -M virt", _ARM),
    _req("VIRTIO_BLK", "boot", "the root disk (virtio-blk, /dev/vda)"),
    _req("VIRTIO_NET", "boot", "network via virtio-net + QEMU user networking (adb/ssh forwards)"),
    _req("VIRTIO_CONSOLE", "boot", "virtio console (hvc0)"),
    # --- boot: console, terminals
    _req("TTY", "boot", "terminals"),
    _req("UNIX98_PTYS", "boot", "/dev/pts (devpts): adb shell and ssh sessions allocate ptys"),
    _req("SERIAL_8250", "boot", "the PC serial port (ttyS0)", _X86),
    _req("SERIAL_8250_CONSOLE", "boot", "kernel console on ttyS0", _X86),
    _req("SERIAL_AMBA_PL011", "boot", "the PL011 UART of -M virt (ttyAMA0)", _ARM),
    _req("SERIAL_AMBA_PL011_CONSOLE", "boot", "kernel console on ttyAMA0", _ARM),
    # --- boot: networking
    _req("NET", "boot", "networking"),
    _req("UNIX", "boot", "UNIX sockets (adbd, sshd, syslog)"),
    _req("INET", "boot", "TCP/IP: adb over TCP and ssh"),
    # --- boot: syscalls adbd/sshd use
    _req("MULTIUSER", "boot", "uids/gids other than 0 (sshd privilege separation)"),
    _req("SECCOMP", "boot", "seccomp filters (sshd sandbox)"),
    _req("FUTEX", "boot", "futex(2): every threaded program"),
    _req("EPOLL", "boot", "epoll(7): adbd's event loop"),
    _req("SIGNALFD", "boot", "signalfd(2): adbd"),
    _req("TIMERFD", "boot", "timerfd(2): adbd"),
    _req("EVENTFD", "boot", "eventfd(2): adbd"),
    _req("POSIX_TIMERS", "boot", "timer_create(2), clock_nanosleep"),
    _req("SHMEM", "boot", "shared memory, memfd and tmpfs"),
    # --- devbench reads the config back from the device
    _req("IKCONFIG", "boot", "the config is kept inside the kernel image"),
    _req("IKCONFIG_PROC", "boot", "/proc/config.gz: devbench checks a device's config with it"),
)

# Not required, but in devbench's build recipe. The recipe starts from `allnoconfig` (every
# option off) and turns on only what the benchmark, perf and devbench's guest need: a lean
# kernel that builds in a few minutes on 2 cores (x86_64_defconfig took ~15 min there).
# Options a required one depends on must be listed too: `olddefconfig` does not turn on a
# dependency, it drops the option (the build then fails naming it, see build._verify_config).
def _on(name: str, reason: str, arches: tuple[Arch, ...] = _BOTH) -> Option:
    return Option(name, "y", "boot", reason, arches)


_BUILD_ALL: tuple[Option, ...] = (
    Option("MODULES", "n", "boot", "one self-contained image: no modules to install in the rootfs"),
    Option("LOCALVERSION", '"-devbench"', "boot", "uname -r tells devbench's kernel apart"),
    Option("LOCALVERSION_AUTO", "n", "boot", "no git suffix in the version"),
    Option("DEBUG_INFO_NONE", "y", "boot", "no DWARF: a much quicker build and a smaller vmlinux"),
    # --- the machine
    _on("64BIT", "an x86_64 kernel (allnoconfig on ARCH=x86 gives i386)", _X86),
    _on("SMP", "the guest has 2 vCPUs"),
    Option("NR_CPUS", "8", "boot", "enough for any -smp devbench uses"),
    _on("ACPI", "q35 describes its CPUs through ACPI (without it the guest saw one CPU)", _X86),
    _on("ARM_PSCI_FW", "-M virt starts secondary CPUs and powers off through PSCI", _ARM),
    _on("ARM_GIC_V3", "the interrupt controller of -M virt with -cpu max", _ARM),
    _on("PCI_MSI", "message-signalled interrupts for virtio-pci"),
    _on("HIGH_RES_TIMERS", "precise clock_nanosleep and timers"),
    _on("NO_HZ_IDLE", "idle vCPUs do not tick (less emulation work)"),
    _on("RTC_CLASS", "a wall clock at boot"),
    _on("RTC_DRV_CMOS", "the PC's RTC", _X86),
    _on("RTC_DRV_PL031", "the PL031 RTC of -M virt", _ARM),
    _on("HW_RANDOM", "hardware RNG core"),
    _on("HW_RANDOM_VIRTIO", "virtio-rng, if QEMU offers one"),
    # --- userspace: Debian's sh, adbd, sshd, busybox
    _on("PRINTK", "kernel messages on the console (boot failures must be readable)"),
    _on("BUG", "BUG()/WARN() report instead of silently going on"),
    _on("BINFMT_ELF", "run ELF programs"),
    _on("BINFMT_SCRIPT", "run #! scripts (the guest init is one)"),
    _on("SYSCTL", "sysctl"),
    _on("PROC_SYSCTL", "/proc/sys: vm.max_map_count is raised there, the hostname set"),
    _on("SYSVIPC", "System V IPC (some programs expect it)"),
    _on("POSIX_MQUEUE", "POSIX message queues"),
    _on("FILE_LOCKING", "flock/fcntl locks"),
    _on("INOTIFY_USER", "inotify (adbd, sshd helpers)"),
    _on("AIO", "POSIX AIO syscalls (adbd's USB path links them)"),
    _on("FHANDLE", "name_to_handle_at (used by util-linux)"),
    _on("MAGIC_SYSRQ", "the guest init reboots with /proc/sysrq-trigger when all else fails"),
    _on("SECCOMP_FILTER", "seccomp BPF filters (sshd's sandbox)"),
    # --- disk and network
    _on("BLOCK", "block devices (EXT4_FS and VIRTIO_BLK need it)"),
    _on("BLK_DEV", "block device drivers (VIRTIO_BLK needs it)"),
    _on("NETDEVICES", "network device drivers (VIRTIO_NET needs it)"),
    _on("NET_CORE", "network core drivers (VIRTIO_NET needs it)"),
    _on("VIRTIO_MENU", "virtio drivers menu (VIRTIO_PCI/MMIO need it)"),
    _on("PACKET", "packet sockets"),
    _on("INET_DIAG", "sock_diag: the guest init's `ss -lt`"),
    _on("INET_TCP_DIAG", "sock_diag for TCP: the guest init's `ss -lt`"),
    _on("UNIX_DIAG", "sock_diag for UNIX sockets (ss)"),
    _on("IPV6", "adbd listens on an IPv6 socket (without IPv6 it never listens: tried)"),
    # --- on by default, not used by devbench's guest (build time)
    *(Option(s, "n", "boot", "trim: not used in devbench's QEMU guest (build time)", arches) for s, arches in (
        ("IPV6_SIT", _BOTH), ("ETHTOOL_NETLINK", _BOTH), ("THERMAL", _BOTH), ("ACPI_THERMAL", _X86),
        ("ACPI_AC", _X86), ("ACPI_BATTERY", _X86), ("ACPI_BUTTON", _X86), ("ACPI_FAN", _X86),
        ("ACPI_TABLE_UPGRADE", _X86), ("ACPI_CONTAINER", _X86),
        # the feature kernel boots without an initramfs; Debian's stock kernel has its own
        ("RD_BZIP2", _BOTH), ("RD_LZMA", _BOTH), ("RD_XZ", _BOTH), ("RD_LZO", _BOTH), ("RD_LZ4", _BOTH),
        ("RD_ZSTD", _BOTH),
    )),
    # --- perf
    _on("DEBUG_KERNEL", "KALLSYMS_ALL depends on it (no debug checks are turned on with it)"),
    _on("FRAME_POINTER", "frame pointers: perf's kernel call graphs", _X86),
    _on("HW_PERF_EVENTS", "the PMU of -cpu max for perf", _ARM),
)
def required(arch: Arch) -> tuple[Option, ...]:
    """Options that must be ``y`` on a kernel devbench runs on in QEMU for ``arch``."""
    _check_arch(arch)
    return tuple(o for o in _REQUIRED_ALL if arch in o.arches)


def build_settings(arch: Arch) -> tuple[Option, ...]:
    """Extra settings of devbench's own build recipe (not requirements)."""
    _check_arch(arch)
    return tuple(o for o in _BUILD_ALL if arch in o.arches)


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}: expected one of {', '.join(ARCHES)}")


REQUIRED: dict[Arch, tuple[Option, ...]] = {a: tuple(o for o in _REQUIRED_ALL if a in o.arches) for a in ARCHES}
"""Per arch: the options that must be ``y`` (see :func:`required`)."""

_HEADINGS: dict[Why, str] = {
    "benchmark": "the benchmark: what devbench measures",
    "perf": "perf in the guest",
    "boot": "booting in devbench's QEMU (disk, console, network, adbd/sshd, /proc/config.gz)",
}


def fragment_text(arch: Arch, *, build: bool = True) -> str:
    """The config fragment for ``arch``, with a comment on every option.

    With ``build`` (the default) it also holds devbench's build-recipe settings (modules off,
    trims); merge it on top of ``allnoconfig`` and run ``make olddefconfig``.
    """
    _check_arch(arch)
    out = [f"# devbench kernel config fragment for {arch}",
           "# Merge on top of " + " + ".join(base_recipe(arch)) + ", then `make olddefconfig`.",
           "# Required options must end up =y in the final .config.", ""]
    for why in ("benchmark", "perf", "boot"):
        opts = [o for o in REQUIRED[arch] if o.why == why]
        out.append(f"# ---- required for {_HEADINGS[why]}")
        for o in opts:
            out.append(f"# {o.reason}")
            out.append(o.line())
        out.append("")
    if build:
        out.append("# ---- devbench's build recipe (not required on other kernels)")
        for o in build_settings(arch):
            out.append(f"# {o.reason}")
            out.append(o.line())
        out.append("")
    return "\n".join(out)


def base_recipe(arch: Arch) -> tuple[str, ...]:
    """The make config targets that give the base config, in order."""
    _check_arch(arch)
    return ("allnoconfig",)
