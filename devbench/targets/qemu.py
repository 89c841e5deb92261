"""A kernel under test booted in QEMU, driven over adb like any other device.

devbench builds (or takes from its cache) the guest disk image and, for `kernel: feature`,
its own kernel with CONFIG_ANON_VMA_NAME (for `kernel: stock`, Debian's stock kernel and an
initramfs); checks the kernel's config before booting; boots
it with the guest's adbd forwarded to a free loopback port; then delegates every command to
an AdbTarget. close() always shuts QEMU down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devbench.config import AdbOptions, QemuOptions
from devbench.errors import DevbenchError, TargetError
from devbench.targets.adb import AdbTarget
from devbench.targets.base import AdbBacked, CommandResult, LineCallback
from devbench.targets.kinds.qemu import Arch

StepCallback = Callable[[str], None]


def kernel_findings(kernel: Path, arch: Arch) -> tuple[list[str], str | None]:
    """Plain-language warnings about the kernel's config, and where the config was found."""
    from devbench.kernel.kconfig import check_config, find_config, parse_config

    found = find_config(kernel)
    if found is None:
        return ([f"kernel config of {kernel} not readable (no IKCONFIG, no .config beside it): "
                 "CONFIG_ANON_VMA_NAME and the boot options could not be checked"], None)
    text, source = found
    out = [f"kernel config ({source}): {f}; `devbench kernel-config --arch {arch}` prints the fragment"
           for f in check_config(parse_config(text), arch)]
    return out, source


def resolve_boot(name: str, options: QemuOptions, step: StepCallback) -> tuple[Path, Path | None]:
    """(kernel image, initramfs or None) for ``options.kernel``: "feature" (devbench's own
    build), "stock" (Debian's stock kernel with devbench's initramfs), or a path."""
    if options.kernel == "stock":
        if options.arch != "x86_64":
            raise TargetError(name, "boot", f"kernel: stock is available for x86_64 only, not {options.arch} "
                                            "(the host's apt has no packages of other architectures)")
        from devbench.qemu.stock import stock_kernel

        step(f"downloading or reusing Debian's stock {options.arch} kernel")
        try:
            stock = stock_kernel(options.arch, progress=step)
        except DevbenchError as exc:
            raise TargetError(name, "stock kernel", str(exc)) from None
        return stock.kernel, stock.initrd
    if options.kernel != "feature":
        path = Path(os.path.expanduser(options.kernel))
        if not path.is_file():
            raise TargetError(name, "boot", f"kernel image {path} does not exist")
        return path, None
    from devbench.kernel.build import ensure_kernel

    if options.kernel_variant is not None:  # the feature kernel plus patches (devbench.kernel.variant)
        from devbench.kernel.variant import ensure_variant

        step(f"building or reusing kernel variant {options.kernel_variant.describe()} ({options.arch})")
        try:
            return Path(ensure_variant(options.arch, options.kernel_variant, progress=step).image), None
        except DevbenchError as exc:  # a patch that does not apply, a failed build: one line
            raise TargetError(name, "build kernel", str(exc)) from None
    step(f"building or reusing devbench's {options.arch} feature kernel")
    try:
        return Path(ensure_kernel(options.arch, progress=step).image), None
    except DevbenchError as exc:
        raise TargetError(name, "build kernel", str(exc)) from None


ICOUNT_NOTE = ("QEMU guest with instruction counting (clock: icount): a time is the instruction-path cost under "
               "emulation, 1 ns per guest instruction: no cache or memory effects; not a device's timing")


def clock_note(options: QemuOptions) -> str:
    """What a time measured on this guest is (a warning every run of it carries)."""
    if options.clock == "icount":
        return ICOUNT_NOTE
    return ("QEMU guest: timings come from an emulated machine"
            + (" (software emulation, TCG)" if options.accel != "kvm" else "") + " and are not device timings")


# the payload ABI of a guest arch (what the probe reports as the device's ABI)
GUEST_ABIS = {"x86_64": "x86_64", "arm64": "aarch64"}


def _quietly(fn: Callable[[str], object], arg: str) -> None:
    """An early build: a failure is raised again, to a caller, by the run's own build."""
    try:
        fn(arg)
    except Exception:  # noqa: BLE001
        pass


def _guard_uids(options: QemuOptions) -> tuple[int, ...]:
    """Who may reach the guest's forwarded ports: devbench and the local adb server it uses."""
    import os

    from devbench.qemu.portguard import allowed_uids
    from devbench.targets.adbenv import AdbEnvError, server_address

    try:
        server = server_address(options.server_host, options.server_port, os.environ)
    except AdbEnvError:
        return allowed_uids(None)  # the adb connection will say what is wrong with it
    local = server.host in ("127.0.0.1", "localhost", "::1")
    return allowed_uids(server.port if local else None)


def _variant_info(options: QemuOptions) -> dict[str, object]:
    v = options.kernel_variant
    if v is None:
        return {}
    return {
        "kernel_variant": v.name,
        "kernel_patches": " ".join(f"{p.ref}@sha256:{p.sha256()[:12]}" for p in v.patches),
    }


class QemuTarget(AdbBacked):
    transport = "qemu"

    def __init__(self, name: str, options: QemuOptions, run_dir: Path, step: StepCallback | None = None,
                 prebuild: Callable[[str], object] | None = None):
        from devbench.qemu.image import guest_image
        from devbench.qemu.machine import QemuMachine, QemuSpec

        step = step or (lambda text: None)
        self.name = name
        self.options = options
        self.workdir = options.workdir
        # The guest image (mmdebstrap: mostly downloads and dpkg) and the payload (a first zig
        # build of an ABI compiles musl: ~40 s) are made while the kernel builds (compiling): on a
        # fresh machine they overlap instead of adding up. Leaving the pool waits for both.
        step(f"building or reusing the {options.arch} guest image")
        with ThreadPoolExecutor(2, thread_name_prefix="guest-image") as pool:
            image_job = pool.submit(guest_image, options.arch)
            if prebuild is not None:
                pool.submit(_quietly, prebuild, GUEST_ABIS[options.arch])
            self.kernel, self.initrd = resolve_boot(name, options, step)
            try:
                image = image_job.result()
            except DevbenchError as exc:
                raise TargetError(name, "guest image", str(exc)) from None
        self.warnings, self.kernel_config_source = kernel_findings(self.kernel, options.arch)
        self.warnings.append(clock_note(options))
        spec = QemuSpec(arch=options.arch, kernel=self.kernel, image=image, memory_mb=options.memory_mb,
                        cpus=options.cpus, accel=options.accel, clock=options.clock, append=options.append,
                        boot_timeout_s=options.boot_timeout_s, retries=options.retries,
                        hard_timeout_s=options.hard_timeout_s, initrd=self.initrd, machine=options.machine,
                        daemons=options.daemons)
        self.machine = QemuMachine(spec, run_dir, name, guard_uids=_guard_uids(options))
        try:
            step(f"booting {self.kernel.name} in QEMU ({options.arch})")
            self.machine.boot()  # BootError: one line naming the device, with the console tail
            step("connecting over adb")
            self.adb = AdbTarget(name, AdbOptions(connect=self.machine.adb_serial, server_host=options.server_host,
                                                  server_port=options.server_port, workdir=options.workdir))
        except BaseException:
            self.machine.stop()
            raise

    @property
    def info(self) -> dict[str, object]:
        from devbench.qemu.machine import machine_type

        m = self.machine
        return {
            "kernel": str(self.kernel),
            "kernel_config_source": self.kernel_config_source,
            "adb_serial": m.adb_serial,
            "ssh_port": m.ssh_port,
            "console_log": str(m.console_log),
            "boot_seconds": round(m.boot_seconds or 0, 2),
            "boot_attempts": m.attempts,
            "arch": self.options.arch,
            "accel": m.accel,
            "clock": self.options.clock,
            "machine": machine_type(m.spec),
            "daemons": ",".join(m.spec.daemons),
            "payload_session": "detached" if self.options.detach else "adb shell",
            "ports_guard": m.ports_guard,
            **_variant_info(self.options),
        }

    def run_payload(self, argv: Sequence[str], *, timeout: float | None = None,
                    on_line: LineCallback | None = None) -> CommandResult:
        """The payload: in an ``adb shell`` as any command, or with ``detach: true`` detached from
        the adb session (devbench.targets.detached), its output collected as it goes."""
        if not self.options.detach:
            return self.run(argv, timeout=timeout, on_line=on_line)
        from devbench.targets.detached import run_detached

        return run_detached(self, argv, workdir=self.workdir, timeout=timeout, on_line=on_line)

    def close(self) -> None:
        try:
            self.adb.close()
        finally:
            self.machine.stop()

