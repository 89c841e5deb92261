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
        if options.keep_tree:  # a variant of it comes next: one full build gives both (devbench.kernel.variant)
            from devbench.kernel.variant import ensure_tree

            ensure_tree(options.arch, progress=step)
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


UNGUARDED = ("QEMU guest unguarded ({why}): any user of this machine can reach its adbd (a root shell in the "
             "guest) and its adb server while the run goes on; run devbench as root with nftables installed")


class AdbServerChoice:
    """The adb server a guest is driven through, and who may reach the guest's ports.

    No ``server_port`` in the config: devbench's own private server (its port guarded like the
    guest's), started here and stopped with the guest. A configured server on loopback: used
    only when it is devbench's or root's alone (devbench.qemu.portguard.server_owner)."""

    def __init__(self, name: str, options: QemuOptions) -> None:
        from devbench.guest.adbserver import AdbServer
        from devbench.guest.errors import LabError
        from devbench.qemu.portguard import proc_net, server_owner

        me = os.geteuid()
        self.server: AdbServer | None = None
        self.warnings: list[str] = []
        self.uids: tuple[int, ...]
        if options.server_port is None:
            server = AdbServer(guard="auto")
            try:
                server.start()
            except LabError as exc:
                raise TargetError(name, "adb server", str(exc)) from None
            self.server, self.host, self.port, self.uids = server, server.host, server.port, (me,)
            self.describe = f"devbench's own, 127.0.0.1:{server.port}"
            if server.unguarded is not None:
                self.warnings.append(UNGUARDED.format(why=server.unguarded))
            return
        self.host, self.port = options.server_host, options.server_port
        self.describe = f"the config's, {self.host}:{self.port}"
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            self.uids = (me,)
            self.warnings.append(f"adb server {self.host}:{self.port} is not on this machine: who can reach the guest "
                                 "through it is not checked")
            return
        try:
            owner = server_owner(proc_net(), self.port, me)
        except ValueError as exc:
            raise TargetError(name, "adb server", f"{exc}: not used (leave server_port out and devbench runs "
                                                  "its own)") from None
        self.uids = tuple(sorted({me, owner}))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


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
                 prebuild: Callable[[str], object] | None = None, label: str | None = None):
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
        self.server = AdbServerChoice(name, options)
        self.warnings += self.server.warnings
        try:
            self.machine = QemuMachine(spec, run_dir, label or name, guard_uids=self.server.uids)
        except BaseException:
            self.server.stop()
            raise
        try:
            step(f"booting {self.kernel.name} in QEMU ({options.arch})")
            self.machine.boot()  # BootError: one line naming the device, with the console tail
            if self.machine.ports_guard.startswith("unguarded") and self.server.server is not None \
                    and self.server.server.unguarded is None:  # the server is guarded, the guest is not
                self.warnings.append(UNGUARDED.format(why=self.machine.ports_guard.removeprefix("unguarded: ")))
            step("connecting over adb")
            self.adb = AdbTarget(name, AdbOptions(connect=self.machine.adb_serial, server_host=self.server.host,
                                                  server_port=self.server.port, workdir=options.workdir))
        except BaseException:
            try:
                self.machine.stop()
            finally:
                self.server.stop()
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
            "adb_server": self.server.describe,
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
            try:
                self.machine.stop()
            finally:
                self.server.stop()

