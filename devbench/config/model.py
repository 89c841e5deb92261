"""The config's model: frozen dataclasses, checked on the way in (devbench.config.load).

A target's options are its kind's (devbench.targets.kinds: adb, ssh, local, qemu, emulator,
labgrid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devbench.targets.kinds.adb import AdbOptions, LabHost
    from devbench.targets.kinds.emulator import EmulatorOptions
    from devbench.targets.kinds.labgrid import LabgridOptions
    from devbench.targets.kinds.local import LocalOptions
    from devbench.targets.kinds.qemu import QemuOptions
    from devbench.targets.kinds.ssh import SshOptions

__all__ = ["ABIS", "NAME_RE", "PAYLOAD_TEST_DEFINES", "VMAS_MAX",
           "AdaptiveConfig", "BenchmarkConfig", "BuildConfig", "Config",
           "CpufreqConfig", "DeviceConfig", "ProfileConfig", "ReportConfig", "RunConfig", "Scenario", "TargetConfig"]

ABIS = ("aarch64", "x86_64", "armv7", "riscv64")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}\Z")
# Names become folder names and labels; keep them printable and path-safe.


@dataclass(frozen=True)
class RunConfig:
    name: str = "devbench"
    output: str = "results"


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str  # a key of devbench.targets.kinds.KINDS: "adb", "ssh", "local", "qemu", "emulator", "labgrid"
    options: AdbOptions | SshOptions | LocalOptions | QemuOptions | EmulatorOptions | LabgridOptions


@dataclass(frozen=True)
class CpufreqConfig:
    governor: str = "performance"  # performance, userspace (with scaling_setspeed), or any the device offers
    khz: int | float | str = (
        "max"  # kHz (the nearest available is chosen), "max", "min", or a fraction (0, 1] of the highest
    )
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
    require: tuple[
        str, ...
    ] = ()  # devbench.results.strict.REQUIREMENTS a warning must not break, else the run fails (exit 4)


@dataclass(frozen=True)
class Scenario:
    name: str
    pages: int


@dataclass(frozen=True)
class AdaptiveConfig:
    precision_pct: float = 1.0  # stop when the regression's 95% CI half-width is within this (points)
    max_forks: int = 5000  # per arm and scenario: the cap


VMAS_MAX = 10_000_000  # the payload's VMAs per process: a bound far above any kernel's vm.max_map_count default


@dataclass(frozen=True)
class BenchmarkConfig:
    vmas: int | tuple[int, ...] = 65536  # one count, or a sweep: every scenario at every count (ascending)
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

    @property
    def vma_counts(self) -> tuple[int, ...]:
        """Every VMA count the plan runs, ascending (one for an int)."""
        return (self.vmas,) if isinstance(self.vmas, int) else self.vmas

    @property
    def sweep(self) -> bool:
        """More than one VMA count: every row, table and plot is per count."""
        return len(self.vma_counts) > 1


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
class ReportConfig:
    # the seed's two tables beside this run's rows at the report's top (devbench.report.letter):
    # "auto": when the run compared kernels named strdup and refcount; "true": always; "false": never
    seed_tables: str = "auto"


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
    report: ReportConfig = ReportConfig()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def target(self, name: str) -> TargetConfig:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)
