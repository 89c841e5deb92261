"""Config: YAML -> validated, frozen dataclasses.

Every error names file:line:column and the field path (ConfigError). Unknown keys are
refused, with a suggestion when one is close.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from devbench.errors import ConfigError
from devbench.config.yamlsrc import Section, Source, load_file, load_yaml

if TYPE_CHECKING:
    from devbench.kernel.variant import KernelVariant
    from devbench.targets.adbenv import ServerAddress

ABIS = ("aarch64", "x86_64", "armv7", "riscv64")
KINDS = ("adb", "ssh", "local", "qemu", "emulator", "labgrid")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}\Z")
# Names become folder names and labels; keep them printable and path-safe.


@dataclass(frozen=True)
class RunConfig:
    name: str = "devbench"
    output: str = "results"


@dataclass(frozen=True)
class AdbOptions:
    serial: str | None = None
    connect: str | None = None  # host:port of a networked adbd to `adb connect`
    server_host: str | None = None  # None: as adb itself ($ADB_SERVER_SOCKET, $ANDROID_ADB_SERVER_ADDRESS/_HOST, 127.0.0.1)
    server_port: int | None = None  # None: $ADB_SERVER_SOCKET, $ANDROID_ADB_SERVER_PORT or 5037, as adb itself
    workdir: str = "/data/local/tmp/devbench"
    via: str | None = None  # a lab host (lab_hosts:) whose adb server has the device, reached over SSH
    select: str | None = None  # instead of serial: all | model:REGEX | abi:ABI (one target per matching device)
    lab_host: "LabHost | None" = field(default=None, compare=False)  # resolved from `via`

    # serial, connect and select all None: the device is --serial, $ANDROID_SERIAL or the only one attached

    def resolved_server(self) -> "ServerAddress":
        """The adb server (config, then adb's environment variables); raises AdbEnvError."""
        from devbench.targets.adbenv import server_address

        return server_address(self.server_host, self.server_port, os.environ)

    def resolved_server_port(self) -> int:
        return self.resolved_server().port


@dataclass(frozen=True)
class LabHost:
    """A lab machine with devices on its own adb server, reached over SSH (a local port is
    forwarded through SSH to its adb server)."""
    name: str
    ssh: "SshOptions"
    adb_port: int = 5037


@dataclass(frozen=True)
class SshOptions:
    host: str
    port: int = 22
    user: str = "root"
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    workdir: str = "/tmp/devbench"
    connect_timeout: float = 15.0


QEMU_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
QEMU_MACHINES = {"x86_64": ("q35", "pc"), "arm64": ("virt",)}  # QEMU -M per arch, the default first
QEMU_DAEMONS = ("adbd", "sshd")  # what the guest init may start; devbench drives the guest over adbd


@dataclass(frozen=True)
class QemuOptions:
    arch: str  # "x86_64" | "arm64"
    kernel: str = "feature"  # a kernel image path; "feature": devbench's own build with CONFIG_ANON_VMA_NAME;
    # "stock": Debian's stock kernel (x86_64; no CONFIG_ANON_VMA_NAME), booted with devbench's initramfs
    kernel_variant: "KernelVariant | None" = None  # kernel: {patches: [...], name: N}: the feature kernel patched
    memory_mb: int = 4096
    cpus: int = 1  # one vCPU: the least noise under both clocks (README, "Measurement fidelity")
    accel: str = "auto"  # tcg | kvm | auto (kvm only where it really works)
    clock: str = "real"  # real: multi-threaded TCG, guest time is host time; icount: instruction counting
    append: str = ""  # extra kernel command line
    boot_timeout_s: int = 300
    retries: int = 2
    hard_timeout_s: int = 4 * 3600
    server_host: str = "127.0.0.1"
    server_port: int | None = None
    workdir: str = "/data/local/tmp/devbench"
    machine: str | None = None  # QEMU -M; None: the arch's default (q35 for x86_64, virt for arm64)
    daemons: tuple[str, ...] = QEMU_DAEMONS  # started by the guest init (adbd always; sshd is unused by devbench)
    detach: bool = False  # true: the payload runs detached from the adb session, its output collected at its end


@dataclass(frozen=True)
class EmulatorOptions:
    avd: str
    sdk: str | None = None  # Android SDK root; default $ANDROID_HOME, $ANDROID_SDK_ROOT, or `emulator` on PATH
    boot_timeout_s: int = 600
    server_host: str = "127.0.0.1"
    server_port: int | None = None
    workdir: str = "/data/local/tmp/devbench"


@dataclass(frozen=True)
class LabgridOptions:
    place: str  # the labgrid place to acquire; its NetworkService is reached over SSH
    coordinator: str | None = None  # HOST:PORT of labgrid-coordinator; None: $LG_COORDINATOR or 127.0.0.1:20408
    resource: str | None = None  # which NetworkService, when the place has several (its name in the place)
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    workdir: str = "/tmp/devbench"
    connect_timeout: float = 15.0


@dataclass(frozen=True)
class LocalOptions:
    workdir: str | None = None


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str  # "adb" | "ssh" | "local" | "qemu"
    options: AdbOptions | SshOptions | LocalOptions | QemuOptions | EmulatorOptions | LabgridOptions


@dataclass(frozen=True)
class CpufreqConfig:
    governor: str = "performance"  # performance, userspace (with scaling_setspeed), or any the device offers
    khz: int | float | str = "max"  # kHz (the nearest available is chosen), "max", "min", or a fraction (0, 1] of the highest
    cpus: tuple[int, ...] | None = None  # lock the policies of these CPUs (default: the pinned CPUs, else all)


@dataclass(frozen=True)
class DeviceConfig:
    root: str = "auto"  # auto: use root if the device gives it (uid 0, adb root, su 0, sudo -n); require; never
    stop_framework: bool = False  # Android: `stop` before the run, `start` after (waits for sys.boot_completed)
    cpufreq: CpufreqConfig | None = None
    pin: tuple[int, ...] | None = None  # run the payload on these CPUs only (taskset), brought online if offline
    max_map_count: int | str | None = "auto"  # "auto": raise to what the scenario needs
    battery_min_pct: int = 25  # warn below this battery level
    boot_timeout_s: int = 180  # how long `start` may take to bring sys.boot_completed back to 1
    reconnect_timeout_s: int = 120  # a lost connection is retried (with backoff) this long, then the target fails
    sysfs: str = "/sys"  # where the device's sysfs and procfs are read and written (tests lay out trees)
    procfs: str = "/proc"
    require: tuple[str, ...] = ()  # devbench.results.strict.REQUIREMENTS a warning must not break, else the run fails (exit 4)


@dataclass(frozen=True)
class Scenario:
    name: str
    pages: int


@dataclass(frozen=True)
class AdaptiveConfig:
    precision_pct: float = 1.0  # stop when the regression's 95% CI half-width is within this (points)
    max_forks: int = 5000  # per arm and scenario: the cap


@dataclass(frozen=True)
class BenchmarkConfig:
    vmas: int = 65536
    name_length: int = 79
    shared_name: bool = False
    placebo: bool = False  # A/A check: the "named" arm clears names as the unnamed one does
    forks: int = 1000
    warmup: int = 10
    batches: int = 10
    mode: str = "interleaved"  # or "separate": one process per arm, as the seed did
    seed: int = 1
    timeout_s: float = 3600.0
    on_emulator: str = "smoke"  # Android emulators: "smoke" (few forks) or "full"
    scenarios: tuple[Scenario, ...] = ()
    adaptive: AdaptiveConfig | None = None  # forks: auto: `forks`/`batches` are then one round


@dataclass(frozen=True)
class BuildConfig:
    compiler: str = "zig"  # zig | gcc | ndk | cc
    cc: str | None = None  # explicit compiler path (gcc/cc) or NDK root (ndk)
    android_api: int = 29
    defines: tuple[str, ...] = ()  # test builds only: payloads/forkbench.c's test hooks (PAYLOAD_TEST_DEFINES)


# The payload's compile-time test hooks a config may ask for (`build: {defines: [...]}`): builds
# that must fail their name checks, for the tests that prove the checks on a kernel with the feature
PAYLOAD_TEST_DEFINES = ("FORKBENCH_TEST_EXTRA_NAMED", "FORKBENCH_TEST_KEEP_NAMES")


@dataclass(frozen=True)
class ProfileConfig:
    enabled: bool = False  # profile runs are separate from, and after, the timed runs
    tool: str = "auto"  # auto: simpleperf on Android, perf on Linux
    event: str = "auto"  # auto: cpu-cycles where the device has a hardware PMU, else cpu-clock
    call_graph: str = "fp"  # fp (frame pointers) | dwarf
    frequency: int = 2000  # samples per second
    forks: int = 100  # profiled forks per arm and scenario
    batches: int = 2


@dataclass(frozen=True)
class Config:
    file: str
    run: RunConfig
    targets: tuple[TargetConfig, ...]
    device: DeviceConfig
    benchmark: BenchmarkConfig
    build: BuildConfig
    profile: ProfileConfig = ProfileConfig()
    lab_hosts: tuple[LabHost, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def target(self, name: str) -> TargetConfig:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """The config file, with `--set KEY=VALUE` overrides written in before it is checked."""
    src = load_file(Path(path))
    if overrides:
        from devbench.config.overrides import apply_overrides

        apply_overrides(src, overrides)
    return parse(src)


def parse_text(text: str, file: str = "<config>") -> Config:
    return parse(load_yaml(text, file))


def parse(src: Source) -> Config:
    top = Section(src, (), src.data)
    run = _run(top.section("run"))
    lab_hosts = _lab_hosts(top.section("lab_hosts"))
    targets = _targets(top, {h.name: h for h in lab_hosts})
    device = _device(top.section("device"))
    bench = _benchmark(top.section("benchmark", required=True))
    build = _build(top.section("build"))
    profile = _profile(top.section("profile"))
    top.done()
    return Config(src.file, run, targets, device, bench, build, profile, lab_hosts, raw=src.data)


def _lab_hosts(sec: Section | None) -> tuple[LabHost, ...]:
    if sec is None:
        return ()
    out = []
    for name in list(sec.data):
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise sec.error(str(name), "a lab host name must start with a letter or digit and use only letters, digits, '.', '_', '-'")
        h = sec.section(name)
        assert h is not None
        ssh = _ssh_options(h)
        out.append(LabHost(name, ssh, h.integer("adb_port", 5037, lo=1, hi=65535)))
        h.done()
    sec.seen.update(sec.data)
    sec.done()
    return tuple(out)


def _ssh_options(opts_sec: Section) -> "SshOptions":
    opts = SshOptions(
        host=opts_sec.string("host"),
        port=opts_sec.integer("port", 22, lo=1, hi=65535),
        user=opts_sec.string("user", "root"),
        key=opts_sec.string("key", None),
        known_hosts=opts_sec.string("known_hosts", "~/.ssh/known_hosts"),
        workdir=opts_sec.value("workdir", _device_dir, "/tmp/devbench"),
        connect_timeout=float(opts_sec.integer("connect_timeout", 15, lo=1, hi=600)),
    )
    _refuse_secrets(opts_sec)
    return opts


def _refuse_secrets(sec: Section) -> None:
    for secret in ("password", "passphrase"):
        if sec.has(secret):
            raise sec.error(secret, "secrets are not taken from configs; use a key (ssh-agent for passphrases)")


def _profile(sec: Section | None) -> ProfileConfig:
    if sec is None:
        return ProfileConfig()
    event = sec.string("event", "auto")
    if not re.match(r"^[a-z0-9_:-]{1,40}\Z", event):
        raise sec.error("event", f"must be a perf event name such as cpu-clock or cpu-cycles (got {event!r})")
    forks = sec.integer("forks", 100, lo=1, hi=100_000)
    batches = sec.integer("batches", 2, lo=1, hi=1000)
    if batches > forks:
        raise sec.error("batches", f"must not exceed forks ({forks}) (got {batches})")
    out = ProfileConfig(
        enabled=sec.boolean("enabled", False),
        tool=sec.string("tool", "auto", choices=("auto", "perf", "simpleperf")),
        event=event,
        call_graph=sec.string("call_graph", "fp", choices=("fp", "dwarf")),
        frequency=sec.integer("frequency", 2000, lo=1, hi=100_000),
        forks=forks,
        batches=batches,
    )
    sec.done()
    return out


def _name(sec: Section, key: str, default: Any = ...) -> str:
    value = sec.string(key) if default is ... else sec.string(key, default)
    if not NAME_RE.match(value):
        raise sec.error(key, "must start with a letter or digit and use only letters, digits, '.', '_', '-', ' ' (max 64)")
    return value


def _run(sec: Section | None) -> RunConfig:
    if sec is None:
        return RunConfig()
    out = RunConfig(name=_name(sec, "name", "devbench"), output=sec.string("output", "results"))
    sec.done()
    return out


def _targets(top: Section, lab_hosts: dict[str, LabHost] | None = None) -> tuple[TargetConfig, ...]:
    items = top.raw("targets")
    if not isinstance(items, list) or not items:
        raise top.error("targets", "must be a non-empty list of targets")
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        sec = Section(top.src, ("targets", i), item)
        t = _target(sec, lab_hosts or {})
        if t.name in seen:
            raise sec.error("name", f"duplicate target name {t.name!r}")
        seen.add(t.name)
        same = next((o for o in out if _device_key(o) is not None and _device_key(o) == _device_key(t)), None)
        if same is not None:
            raise sec.error(t.kind, f"is the same device as target {same.name!r}: a device runs one target at a time")
        out.append(t)
    return tuple(out)


def _device_key(t: TargetConfig) -> tuple[Any, ...] | None:
    """What identifies the device behind a target (None: cannot tell, e.g. a QEMU guest of its own)."""
    o = t.options
    if isinstance(o, AdbOptions):
        if o.select is not None:
            return None
        try:
            server = str(o.resolved_server()) if o.via is None else (o.server_host, o.server_port)
        except ValueError:  # a bad adb environment variable: said when the target connects
            server = (o.server_host, o.server_port)
        return ("adb", o.via, server, o.connect or o.serial)
    if isinstance(o, SshOptions):
        return ("ssh", o.host, o.port, o.workdir)
    if isinstance(o, LocalOptions):
        return ("local", o.workdir)
    if isinstance(o, LabgridOptions):
        return ("labgrid", o.coordinator, o.place)
    return None


def _target(sec: Section, lab_hosts: dict[str, LabHost]) -> TargetConfig:
    name = _name(sec, "name")
    kinds = [k for k in KINDS if sec.has(k)]
    if len(kinds) != 1:
        known = {k for k in sec.data if k != "name"}
        if not kinds and known:
            sec.seen.update(("name", *KINDS))
            sec.done()  # reports the unknown key with a suggestion
        raise sec.error("name", "a target needs exactly one of " + ", ".join(k + ":" for k in KINDS))
    kind = kinds[0]
    opts_sec = sec.section(kind)
    assert opts_sec is not None
    if kind == "adb":
        opts: Any = AdbOptions(
            serial=opts_sec.string("serial", None),
            connect=opts_sec.value("connect", _host_port, None),
            server_host=opts_sec.string("server_host", None),
            server_port=opts_sec.integer("server_port", None, lo=1, hi=65535),
            workdir=opts_sec.value("workdir", _device_dir, "/data/local/tmp/devbench"),
            via=opts_sec.string("via", None),
            select=opts_sec.value("select", _select, None),
        )
        if opts.via is not None:
            if opts.via not in lab_hosts:
                raise opts_sec.error("via", f"no lab host named {opts.via!r} under lab_hosts: (have: {', '.join(sorted(lab_hosts)) or 'none'})")
            opts = replace(opts, lab_host=lab_hosts[opts.via])
        opts_sec.done()  # a typo (serail:) is named before the one-of check below
        if sum(x is not None for x in (opts.serial, opts.connect, opts.select)) > 1:
            raise sec.error(kind, "takes at most one of serial:, connect: (host:port) or select: (all, model:REGEX, abi:ABI)"
                                  " (none: --serial, $ANDROID_SERIAL or the only device attached)")
    elif kind == "ssh":
        opts = _ssh_options(opts_sec)
    elif kind == "qemu":
        arch = opts_sec.string("arch", choices=tuple(QEMU_ARCHES))
        from devbench.kernel.variant import parse_kernel_option  # kernel: feature | stock | PATH | {patches: [...]}

        kernel, kernel_variant = parse_kernel_option(opts_sec, "kernel")
        opts = QemuOptions(
            arch=QEMU_ARCHES[arch],
            kernel=kernel,
            kernel_variant=kernel_variant,
            memory_mb=opts_sec.integer("memory_mb", 4096, lo=256, hi=1024 * 1024),
            cpus=opts_sec.integer("cpus", 1, lo=1, hi=512),
            accel=opts_sec.string("accel", "auto", choices=("auto", "tcg", "kvm")),
            clock=opts_sec.string("clock", "real", choices=("real", "icount")),
            append=opts_sec.value("append", _kernel_args, ""),
            boot_timeout_s=opts_sec.integer("boot_timeout_s", 300, lo=5, hi=24 * 3600),
            retries=opts_sec.integer("retries", 2, lo=0, hi=20),
            hard_timeout_s=opts_sec.integer("hard_timeout_s", 4 * 3600, lo=60, hi=7 * 24 * 3600),
            server_host=opts_sec.string("server_host", "127.0.0.1"),
            server_port=opts_sec.integer("server_port", None, lo=1, hi=65535),
            workdir=opts_sec.value("workdir", _device_dir, "/data/local/tmp/devbench"),
            machine=opts_sec.string("machine", None, choices=QEMU_MACHINES[QEMU_ARCHES[arch]]),
            daemons=opts_sec.value("daemons", _qemu_daemons, QEMU_DAEMONS),
            detach=opts_sec.boolean("detach", False),
        )
        if opts.clock == "icount" and opts.accel == "kvm":
            raise opts_sec.error("clock", "icount counts instructions under software emulation (TCG): "
                                          "it cannot go with accel: kvm (use accel: tcg or auto)")
    elif kind == "emulator":
        avd = opts_sec.string("avd")
        if not re.match(r"^[A-Za-z0-9._-]+\Z", avd):
            raise opts_sec.error("avd", f"must be an AVD name of letters, digits, '.', '_', '-' (got {avd!r})")
        opts = EmulatorOptions(
            avd=avd,
            sdk=opts_sec.string("sdk", None),
            boot_timeout_s=opts_sec.integer("boot_timeout_s", 600, lo=5, hi=24 * 3600),
            server_host=opts_sec.string("server_host", "127.0.0.1"),
            server_port=opts_sec.integer("server_port", None, lo=1, hi=65535),
            workdir=opts_sec.value("workdir", _device_dir, "/data/local/tmp/devbench"),
        )
    elif kind == "labgrid":
        opts = LabgridOptions(
            place=opts_sec.value("place", _labgrid_name),
            coordinator=opts_sec.value("coordinator", _host_port, None),
            resource=opts_sec.value("resource", _labgrid_name, None),
            key=opts_sec.string("key", None),
            known_hosts=opts_sec.string("known_hosts", "~/.ssh/known_hosts"),
            workdir=opts_sec.value("workdir", _device_dir, "/tmp/devbench"),
            connect_timeout=float(opts_sec.integer("connect_timeout", 15, lo=1, hi=600)),
        )
        _refuse_secrets(opts_sec)
    else:
        opts = LocalOptions(workdir=opts_sec.value("workdir", _device_dir, None))
    opts_sec.done()
    sec.done()
    return TargetConfig(name=name, kind=kind, options=opts)


def _qemu_daemons(value: Any) -> tuple[str, ...]:
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


def _labgrid_name(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+:-]{0,127}\Z", value):
        raise ValueError(f"must be a labgrid name of letters, digits, '.', '_', '+', ':', '-' (got {value!r})")
    return value


def _select(value: Any) -> str:
    if value == "all":
        return value
    if isinstance(value, str) and value.startswith(("model:", "abi:")):
        kind, _, pattern = value.partition(":")
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"{kind}: is not a valid regular expression ({exc})") from None
        if pattern:
            return value
    raise ValueError(f"must be all, model:REGEX or abi:ABI (got {value!r})")


def _kernel_args(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9_.,:=/+\- ]*\Z", value):
        raise ValueError(f"must be kernel arguments of letters, digits and _.,:=/+- (got {value!r})")
    return value


def _host_port(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}\Z", value):
        raise ValueError(f"must be host:port, got {value!r}")
    return value


def _device_dir(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^/[A-Za-z0-9._/\-]+\Z", value) or "/../" in value + "/":
        raise ValueError(f"must be an absolute path of letters, digits, '.', '_', '-', '/' (got {value!r})")
    return value


def _device(sec: Section | None) -> DeviceConfig:
    if sec is None:
        return DeviceConfig()
    cpufreq = None
    cf = sec.section("cpufreq")
    if cf is not None:
        khz = cf.raw("khz", "max")
        ok = (isinstance(khz, int) and not isinstance(khz, bool) and khz > 1) or khz in ("max", "min") \
            or (isinstance(khz, float) and 0 < khz <= 1)
        if not ok:
            raise cf.error("khz", f"must be a frequency in kHz, 'max', 'min' or a fraction in (0, 1] of the highest (got {khz!r})")
        governor = cf.string("governor", "performance")
        if not re.match(r"^[a-z0-9_]{1,32}\Z", governor):
            raise cf.error("governor", f"must be a cpufreq governor name such as performance or userspace (got {governor!r})")
        cpufreq = CpufreqConfig(governor=governor, khz=khz, cpus=_cpu_list(cf, "cpus"))
        cf.done()
    mmc = sec.raw("max_map_count", "auto")
    if mmc != "auto" and (isinstance(mmc, bool) or not isinstance(mmc, int) or mmc < 1):
        raise sec.error("max_map_count", f"must be a positive integer or 'auto' (got {mmc!r})")
    out = DeviceConfig(
        root=sec.string("root", "auto", choices=("auto", "require", "never")),
        stop_framework=sec.boolean("stop_framework", False),
        cpufreq=cpufreq,
        pin=_cpu_list(sec, "pin"),
        max_map_count=mmc,
        battery_min_pct=sec.integer("battery_min_pct", 25, lo=0, hi=100),
        boot_timeout_s=sec.integer("boot_timeout_s", 180, lo=1, hi=3600),
        reconnect_timeout_s=sec.integer("reconnect_timeout_s", 120, lo=0, hi=24 * 3600),
        sysfs=sec.value("sysfs", _fs_root("sys"), "/sys"),
        procfs=sec.value("procfs", _fs_root("proc"), "/proc"),
        require=sec.value("require", _requirements, ()),
    )
    sec.done()
    return out


def _requirements(value: Any) -> tuple[str, ...]:
    from devbench.results.strict import REQUIREMENTS

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of {', '.join(REQUIREMENTS)}")
    for v in value:
        if v not in REQUIREMENTS:
            hint = difflib.get_close_matches(v, list(REQUIREMENTS), n=1)
            raise ValueError(f"unknown requirement {v!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                             + f"; known: {', '.join(REQUIREMENTS)}")
    return tuple(dict.fromkeys(value))


def _fs_root(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        path = _device_dir(value)
        if path.rstrip("/").split("/")[-1] != name:
            raise ValueError(f"must be an absolute path ending in /{name} (got {value!r})")
        return path.rstrip("/")
    return check


def _cpu_list(sec: Section, key: str) -> tuple[int, ...] | None:
    value = sec.raw(key, None)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 4096 for c in value):
        raise sec.error(key, f"must be a non-empty list of CPU numbers such as [4, 5, 6, 7] (got {value!r})")
    return tuple(sorted(set(value)))


def _benchmark(sec: Section) -> BenchmarkConfig:
    adaptive = None
    if sec.raw("forks", None) == "auto":
        sec.seen.add("forks")
        prec = sec.raw("precision", "1%")
        try:
            pct = float(str(prec).rstrip("%")) if not isinstance(prec, bool) else -1.0
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 100:
            raise sec.error("precision", f"must be a percentage such as 1% or 0.5 (got {prec!r})")
        sec.seen.add("precision")
        round_forks = sec.integer("round_forks", 200, lo=2, hi=1_000_000)
        adaptive = AdaptiveConfig(pct, sec.integer("max_forks", 5000, lo=round_forks, hi=10_000_000))
        forks = round_forks
    else:
        for key in ("precision", "max_forks", "round_forks"):
            if sec.has(key):
                raise sec.error(key, "is only for forks: auto")
        forks = sec.integer("forks", 1000, lo=1, hi=10_000_000)
    batches = sec.integer("batches", 10, lo=1, hi=100_000)
    if batches > forks:
        raise sec.error("batches", f"must not exceed forks ({forks}) (got {batches})")
    items = sec.raw("scenarios")
    if not isinstance(items, list) or not items:
        raise sec.error("scenarios", "must be a non-empty list of {name, pages}")
    scenarios = []
    for i, item in enumerate(items):
        s = Section(sec.src, sec.path + ("scenarios", i), item)
        sc = Scenario(name=_name(s, "name"), pages=s.integer("pages", lo=0, hi=1_000_000))
        s.done()
        if any(o.name == sc.name for o in scenarios):
            raise s.error("name", f"duplicate scenario name {sc.name!r}")
        scenarios.append(sc)
    out = BenchmarkConfig(
        vmas=sec.integer("vmas", 65536, lo=1, hi=10_000_000),
        name_length=sec.integer("name_length", 79, lo=1, hi=79),
        shared_name=sec.boolean("shared_name", False),
        placebo=sec.boolean("placebo", False),
        forks=forks,
        warmup=sec.integer("warmup", 10, lo=0, hi=1_000_000),
        batches=batches,
        mode=sec.string("mode", "interleaved", choices=("interleaved", "separate")),
        seed=sec.integer("seed", 1, lo=0, hi=2**63 - 1),
        timeout_s=float(sec.integer("timeout_s", 3600, lo=1, hi=7 * 24 * 3600)),
        on_emulator=sec.string("on_emulator", "smoke", choices=("smoke", "full")),
        scenarios=tuple(scenarios),
        adaptive=adaptive,
    )
    sec.done()
    return out


def _build(sec: Section | None) -> BuildConfig:
    if sec is None:
        return BuildConfig()
    out = BuildConfig(
        compiler=sec.string("compiler", "zig", choices=("zig", "gcc", "ndk", "cc")),
        cc=sec.string("cc", None),
        android_api=sec.integer("android_api", 29, lo=16, hi=99),
        defines=_defines(sec),
    )
    if out.compiler in ("ndk", "cc") and out.cc is None:
        raise sec.error("cc", f"is required with compiler: {out.compiler} (path to the {'NDK root' if out.compiler == 'ndk' else 'compiler'})")
    sec.done()
    return out


def _defines(sec: Section) -> tuple[str, ...]:
    names = sec.string_list("defines", [])
    for i, name in enumerate(names):
        if name not in PAYLOAD_TEST_DEFINES:
            raise sec.src.error(sec.path + ("defines", i), f"{name!r} is not one of the payload's test builds "
                                f"({', '.join(PAYLOAD_TEST_DEFINES)})")
    return tuple(sorted(set(names)))


def with_overrides(cfg: Config, *, targets: list[str] | None = None, output: str | None = None,
                   serial: str | None = None) -> Config:
    """Select targets by name, override the output folder, and give --serial to the adb target
    that names no device (from the CLI)."""
    chosen = cfg.targets
    if targets:
        names = {t.name for t in cfg.targets}
        for n in targets:
            if n not in names:
                raise ConfigError(cfg.file, None, None, "targets", f"no target named {n!r} (have: {', '.join(sorted(names))})")
        chosen = tuple(t for t in cfg.targets if t.name in targets)
    raw = cfg.raw
    if serial is not None:
        chosen = _with_serial(cfg.file, chosen, serial)
        raw = _raw_with_serial(raw, next(t for t in chosen if isinstance(t.options, AdbOptions) and t.options.serial == serial))
    run = RunConfig(name=cfg.run.name, output=output) if output else cfg.run
    return replace(cfg, run=run, targets=chosen, raw=raw)


def _raw_with_serial(raw: dict[str, Any], target: TargetConfig) -> dict[str, Any]:
    """The recorded config names the device --serial chose, so that resume and restore find it."""
    import copy

    out = copy.deepcopy(raw)
    for item in out.get("targets") or []:
        if isinstance(item, dict) and item.get("name") == target.name and isinstance(item.get("adb"), (dict, type(None))):
            item["adb"] = {**(item.get("adb") or {}), "serial": target.options.serial}  # type: ignore[union-attr]
    return out


def unnamed_adb(t: TargetConfig) -> bool:
    """An adb target that names no device (adb: {}): --serial, $ANDROID_SERIAL or the only one attached."""
    o = t.options
    return isinstance(o, AdbOptions) and o.serial is None and o.connect is None and o.select is None


def _with_serial(file: str, targets: tuple[TargetConfig, ...], serial: str) -> tuple[TargetConfig, ...]:
    if not serial or not serial.isprintable() or len(serial) > 256:
        raise ConfigError(file, None, None, "--serial", f"must be a printable adb serial (got {serial!r})")
    open_ = [t for t in targets if unnamed_adb(t)]
    if len(open_) != 1:
        have = ", ".join(f"{t.name} ({t.kind})" for t in targets)
        why = f"the targets run have none: {have}" if not open_ else \
            f"{len(open_)} targets name none ({', '.join(t.name for t in open_)}): pick one with --target"
        raise ConfigError(file, None, None, "--serial", f"is for the one adb target that names no device "
                                                        f"(no serial:, connect: or select:); {why}")
    return tuple(replace(t, options=replace(t.options, serial=serial)) if t is open_[0] else t for t in targets)
