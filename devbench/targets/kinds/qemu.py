"""qemu: a guest devbench boots under QEMU (its feature kernel, or Debian's stock one), driven
over adb; ends with its run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from devbench.targets.kinds.base import Kind, Opening
from devbench.targets.kinds.values import device_dir, matching, own_section

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.config.yamlsrc import Section
    from devbench.kernel.choice import KernelChoice
    from devbench.kernel.variant import KernelVariant
    from devbench.targets.base import Target
    from devbench.targets.kinds.adb import LabHost

QEMU_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
QEMU_MACHINES = {"x86_64": ("q35", "pc"), "arm64": ("virt",)}  # QEMU -M per arch, the default first
Arch = Literal["x86_64", "arm64"]
Accel = Literal["tcg", "kvm", "auto"]
Clock = Literal["real", "icount"]
Daemon = Literal["adbd", "sshd"]
# what the guest init may start; devbench drives the guest over adbd
QEMU_DAEMONS: tuple[Daemon, ...] = ("adbd", "sshd")


@dataclass(frozen=True)
class QemuOptions:
    arch: Arch
    kernel: str = "feature"  # a kernel image path; "feature": devbench's own build with CONFIG_ANON_VMA_NAME;
    # "stock": Debian's stock kernel (x86_64; no CONFIG_ANON_VMA_NAME), booted with devbench's initramfs
    kernel_variant: KernelVariant | None = None  # kernel: {patches: [...], name: N}: the feature kernel patched
    memory_mb: int = 4096
    cpus: int = 1  # one vCPU: the least noise under both clocks (docs/measurement-fidelity.md)
    accel: Accel = "auto"  # tcg | kvm | auto (kvm only where it really works)
    clock: Clock = "real"  # real: multi-threaded TCG, guest time is host time; icount: instruction counting
    append: str = ""  # extra kernel command line
    boot_timeout_s: int = 300
    retries: int = 2
    hard_timeout_s: int = 4 * 3600
    server_host: str = "127.0.0.1"
    server_port: int | None = None
    workdir: str = "/data/local/tmp/devbench"
    machine: str | None = None  # QEMU -M; None: the arch's default (q35 for x86_64, virt for arm64)
    daemons: tuple[Daemon, ...] = QEMU_DAEMONS  # started by the guest init (adbd always; sshd is unused by devbench)
    detach: bool = False  # true: the payload runs detached from the adb session, its output collected at its end
    kernels: tuple[KernelChoice, ...] = ()  # kernels to compare (devbench.kernel.choice); kernel: then unused
    boots: int = 2  # with kernels: the boots of each kernel, in ABBA order (devbench.run.kernels)
    # the feature kernel built as the kept tree that variants build on (devbench.kernel.variant):
    # set for the feature kernel of a kernels: list that holds a variant, so a cold cache costs
    # one full build per architecture, not two (the base image is filled from the tree's build)
    keep_tree: bool = False

    def for_kernel(self, choice: KernelChoice) -> QemuOptions:
        """The options of one boot of a kernel of ``kernels:``."""
        keep = choice.kernel == "feature" and choice.variant is None and any(k.variant for k in self.kernels)
        return replace(self, kernel=choice.kernel, kernel_variant=choice.variant, kernels=(), keep_tree=keep)


def qemu_daemons(value: Any) -> tuple[Daemon, ...]:
    """qemu: daemons: a list of adbd, sshd with adbd in it (devbench drives the guest over adb),
    in the guest init's order."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of {', '.join(QEMU_DAEMONS)} (got {value!r})")
    bad = [v for v in value if v not in QEMU_DAEMONS]
    if bad:
        raise ValueError(f"unknown daemon {bad[0]!r} (known: {', '.join(QEMU_DAEMONS)})")
    if len(set(value)) != len(value):
        raise ValueError(f"lists a daemon twice ({value!r})")
    if "adbd" not in value:
        raise ValueError("must include adbd: devbench drives QEMU guests over adb")
    return tuple(d for d in QEMU_DAEMONS if d in value)


kernel_args = matching(r"[A-Za-z0-9_.,:=/+\- ]*", "kernel arguments of letters, digits and _.,:=/+-")


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> QemuOptions:
    sec = own_section(target, "qemu")
    arch = sec.string("arch", choices=tuple(QEMU_ARCHES))
    from devbench.kernel.choice import MAX_BOOTS, MIN_BOOTS, parse_kernels
    from devbench.kernel.variant import parse_kernel_option  # kernel: feature | stock | PATH | {patches: [...]}

    kernels = parse_kernels(sec)  # kernels: [...] to compare, booted in turn
    if kernels and sec.has("kernel"):
        raise sec.error("kernel", "goes with one kernel; kernels: lists every kernel to compare (leave kernel: out)")
    if not kernels and sec.has("boots"):
        raise sec.error("boots", "is for kernels: (the boots of each kernel compared)")
    kernel, kernel_variant = parse_kernel_option(sec, "kernel")
    opts = QemuOptions(
        arch=cast(Arch, QEMU_ARCHES[arch]),
        kernel=kernel,
        kernel_variant=kernel_variant,
        memory_mb=sec.integer("memory_mb", 4096, lo=256, hi=1024 * 1024),
        cpus=sec.integer("cpus", 1, lo=1, hi=512),
        accel=cast(Accel, sec.string("accel", "auto", choices=("auto", "tcg", "kvm"))),
        clock=cast(Clock, sec.string("clock", "real", choices=("real", "icount"))),
        append=sec.value("append", kernel_args, ""),
        boot_timeout_s=sec.integer("boot_timeout_s", 300, lo=5, hi=24 * 3600),
        retries=sec.integer("retries", 2, lo=0, hi=20),
        hard_timeout_s=sec.integer("hard_timeout_s", 4 * 3600, lo=60, hi=7 * 24 * 3600),
        server_host=sec.string("server_host", "127.0.0.1"),
        server_port=sec.integer("server_port", None, lo=1, hi=65535),
        workdir=sec.value("workdir", device_dir, "/data/local/tmp/devbench"),
        machine=sec.string("machine", None, choices=QEMU_MACHINES[QEMU_ARCHES[arch]]),
        daemons=sec.value("daemons", qemu_daemons, QEMU_DAEMONS),
        detach=sec.boolean("detach", False),
        kernels=kernels,
        boots=sec.integer("boots", MIN_BOOTS, lo=MIN_BOOTS, hi=MAX_BOOTS),
    )
    if opts.clock == "icount" and opts.accel == "kvm":
        raise sec.error("clock", "icount counts instructions under software emulation (TCG): "
                                 "it cannot go with accel: kvm (use accel: tcg or auto)")
    sec.done()
    return opts


def open_qemu(cfg: TargetConfig, opening: Opening) -> Target:
    from devbench.targets.qemu import QemuTarget

    assert isinstance(cfg.options, QemuOptions)
    return QemuTarget(cfg.name, cfg.options, opening.run_dir, opening.step, opening.prebuild, opening.label)


KIND = Kind("qemu", QemuOptions, parse, open_qemu, started_by_devbench=True)
