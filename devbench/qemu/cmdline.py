"""QEMU's command line for a devbench guest (pure): the machine, its kernel's command line, the
forwarded ports, the clock (real time, or instruction counting)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devbench.targets.kinds.qemu import QEMU_DAEMONS, QEMU_MACHINES, Accel, Arch, Clock, Daemon

from .image import DAEMONS_ARG, GUEST_ADB_PORT, GUEST_ADDRESS, GUEST_SSH_PORT, INIT_PATH
from .retry import EARLY_PANIC_RETRIES

ICOUNT = "shift=0,align=off,sleep=off"  # QEMU -icount: 1 ns of guest time per instruction

QEMU_BINARIES: dict[str, str] = {"x86_64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}
CONSOLES: dict[str, str] = {"x86_64": "ttyS0", "arm64": "ttyAMA0"}
# QEMU machine types a guest may boot as (the first the default) and the daemons its init can
# start, in that order: the config's own lists, so the two never differ
MACHINES: dict[str, tuple[str, ...]] = QEMU_MACHINES
DAEMONS: tuple[Daemon, ...] = QEMU_DAEMONS
_HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class QemuSpec:
    """What to boot. ``accel``: "tcg" (default), "kvm" (must work, else the boot fails at
    once), "auto" (kvm only if :func:`check_kvm` says it works). ``append``: extra kernel
    args, after devbench's own (a later ``init=`` wins). ``initrd``: an initramfs (QEMU
    ``-initrd``); its ``/init`` (``rdinit=/init``) then mounts the disk and starts the guest
    init itself, so neither ``root=`` nor ``init=`` is passed (see :mod:`devbench.qemu.stock`)."""

    arch: Arch
    kernel: Path
    image: Path
    memory_mb: int = 4096
    cpus: int = 2
    accel: Accel = "tcg"
    append: str = ""
    boot_timeout_s: float = 180.0
    retries: int = 2  # failed boots tried again (early panics and port clashes: devbench.qemu.retry)
    hard_timeout_s: float = 7200.0
    initrd: Path | None = None
    early_panic_retries: int = EARLY_PANIC_RETRIES
    clock: Clock = "real"  # after the older fields: positional construction keeps its meaning
    machine: str | None = None  # QEMU -M: None is the arch's default (q35, virt); see MACHINES
    daemons: tuple[Daemon, ...] = DAEMONS  # started by the guest init; devbench itself needs adbd

    def __post_init__(self) -> None:
        if self.arch not in QEMU_BINARIES:
            raise ValueError(f"arch must be one of {sorted(QEMU_BINARIES)}, not {self.arch!r}")
        if self.accel not in ("tcg", "kvm", "auto"):
            raise ValueError(f"accel must be tcg, kvm or auto, not {self.accel!r}")
        if self.clock not in ("real", "icount") or (self.clock == "icount" and self.accel == "kvm"):
            raise ValueError(
                f"clock must be real or icount (icount under TCG only), not {self.clock!r} with {self.accel}"
            )
        if self.machine is not None and self.machine not in MACHINES[self.arch]:
            raise ValueError(f"machine for {self.arch} must be one of {', '.join(MACHINES[self.arch])}, "
                             f"not {self.machine!r}")
        if (
            not self.daemons
            or len(set(self.daemons)) != len(self.daemons)
            or any(d not in DAEMONS for d in self.daemons)
        ):
            raise ValueError(f"daemons must be distinct names of {', '.join(DAEMONS)}, not {list(self.daemons)!r}")
        if self.memory_mb < 64 or self.cpus < 1 or self.retries < 0 or self.early_panic_retries < 0:
            raise ValueError("memory_mb >= 64, cpus >= 1, retries >= 0, early_panic_retries >= 0")
        if self.boot_timeout_s <= 0 or self.hard_timeout_s <= self.boot_timeout_s:
            raise ValueError("0 < boot_timeout_s < hard_timeout_s")


def machine_type(spec: QemuSpec) -> str:
    """QEMU's -M for the spec: its own or the arch's default."""
    return spec.machine or MACHINES[spec.arch][0]


def kernel_args(spec: QemuSpec) -> str:
    if spec.initrd is not None:
        base = f"console={CONSOLES[spec.arch]} panic=-1 oops=panic rdinit=/init quiet"
    else:
        base = (f"console={CONSOLES[spec.arch]} root=/dev/vda rw rootfstype=ext4 panic=-1 oops=panic "
                f"init={INIT_PATH} quiet")
    if tuple(spec.daemons) != DAEMONS:  # the default (both) stays off the command line
        base += f" {DAEMONS_ARG}={','.join(spec.daemons)}"
    return f"{base} {spec.append}".strip()


def machine_args(spec: QemuSpec, accel: str | None = None) -> list[str]:
    """-M, -accel (with -icount) and -cpu of the spec (pure). ``accel`` overrides the spec's;
    "auto" means tcg here (:class:`QemuMachine` resolves "auto" with :func:`check_kvm` first)."""
    acc = accel or ("tcg" if spec.accel == "auto" else spec.accel)
    if acc not in ("tcg", "kvm"):
        raise ValueError(f"accel {acc!r}")
    if spec.arch == "x86_64":
        cpu = "host" if acc == "kvm" else "max"
    else:
        cpu = "host" if acc == "kvm" else "max,pauth-impdef=on"  # pauth-impdef: arm64 TCG 7-8x faster
    if acc == "kvm":
        accel_arg, icount = "kvm", []
    elif spec.clock == "icount":
        # guest time counts instructions (1 ns each): deterministic, one host thread for all vCPUs;
        # no sleep: an idle guest's time jumps ahead instead of waiting for the host
        accel_arg, icount = "tcg,thread=single", ["-icount", ICOUNT]
    else:
        accel_arg, icount = "tcg,thread=multi", []
    return ["-M", machine_type(spec), "-accel", accel_arg, *icount, "-cpu", cpu]


def qemu_command(spec: QemuSpec, *, adb_port: int, ssh_port: int | None, console_log: Path | str,
                 accel: str | None = None) -> list[str]:
    """The QEMU command line (pure). ``accel`` overrides the spec's; "auto" means tcg here
    (:class:`QemuMachine` resolves "auto" with :func:`check_kvm` first). The SSH port is
    forwarded only when the guest runs sshd."""
    cpu_part = machine_args(spec, accel)
    fwds = [f"hostfwd=tcp:127.0.0.1:{adb_port}-{GUEST_ADDRESS}:{GUEST_ADB_PORT}"]
    if "sshd" in spec.daemons:
        if ssh_port is None:
            raise ValueError("the guest runs sshd: an ssh_port to forward is needed")
        fwds.append(f"hostfwd=tcp:127.0.0.1:{ssh_port}-{GUEST_ADDRESS}:{GUEST_SSH_PORT}")
    fwd = ",".join(fwds)
    return [
        QEMU_BINARIES[spec.arch], *cpu_part,
        "-m", str(spec.memory_mb), "-smp", str(spec.cpus),
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
        "-kernel", str(spec.kernel),
        *(["-initrd", str(spec.initrd)] if spec.initrd is not None else []),
        "-append", kernel_args(spec),
        "-drive", f"file={spec.image},format=raw,if=virtio,snapshot=on,cache=unsafe",
        # restrict=on: the guest reaches neither the host nor the outside; hostfwd still works
        "-netdev", f"user,id=n0,restrict=on,ipv6=off,{fwd}",
        "-device", "virtio-net-pci,netdev=n0,romfile=",
        "-chardev", f"file,id=c0,path={console_log}",
        "-serial", "chardev:c0",
        "-monitor", "none",
    ]


# -- console -----------------------------------------------------------------------------------
