"""What devbench will do to a device, decided from the probed facts and `device:` (pure).

plan_actions() returns the ordered list of changes (framework stop, CPUs online, per-policy
governor and frequency range, vm.max_map_count) with why each value was chosen, plus the
warnings for what was asked but cannot be done. Nothing here touches the device; applying
and restoring is device/tuning.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devbench.config import BenchmarkConfig, DeviceConfig
from devbench.device.cpufreq import CpufreqChoiceError, check_governor, choose_khz, parse_cpu_list, select_policies
from devbench.device.probe import Facts
from devbench.run.plan import required_map_count


class TuningRequestError(ValueError):
    """The config asks for something this device cannot be (e.g. pinning to a CPU it lacks)."""


@dataclass(frozen=True)
class Action:
    kind: str  # "file" | "range" | "framework" | "setspeed" (not restored: only meaningful under userspace)
    setting: str  # e.g. "policy0 scaling_governor"
    path: str = ""
    value: str = ""  # file/setspeed: the new content; range: "MIN MAX"
    why: str = ""


@dataclass
class TuningPlan:
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    locked_khz: dict[str, int] = field(default_factory=dict)  # policy -> kHz it will be locked at
    pin_mask: str | None = None  # taskset mask (hex) for the payload
    pinned: tuple[int, ...] | None = None


def plan_actions(
    facts: Facts, device: DeviceConfig, bench: BenchmarkConfig, root: bool, *, profiling: bool = False
) -> TuningPlan:
    out = TuningPlan()
    sysfs = device.sysfs.rstrip("/")
    online = set(parse_cpu_list(facts.cpus_online))
    present = set(parse_cpu_list(facts.cpus_present)) or online
    if device.pin is not None:
        missing = [c for c in device.pin if present and c not in present]
        if missing:
            raise TuningRequestError(f"device.pin: CPU {', '.join(map(str, missing))} not present on the device "
                                     f"(present: {facts.cpus_present or '?'})")
        if not facts.taskset:
            out.warnings.append("device.pin: taskset not found on the device: the payload is not pinned")
        else:
            out.pin_mask = format(sum(1 << c for c in device.pin), "x")
            out.pinned = device.pin
    if not root:
        _not_root_warnings(out, facts, device, bench)
        return out
    if device.stop_framework:
        if not facts.android:
            out.warnings.append(
                "device.stop_framework: not an Android device (no getprop): there is no framework to stop"
            )
        elif facts.framework_running is False:
            out.warnings.append("device.stop_framework: the Android framework was already stopped; it is left so")
        else:
            out.actions.append(Action("framework", "android framework", value="stopped",
                                      why="`stop` before the run, `start` after (device.stop_framework)"))
    for cpu in device.pin or ():
        if cpu not in online:
            out.actions.append(Action("file", f"cpu{cpu} online", f"{sysfs}/devices/system/cpu/cpu{cpu}/online", "1",
                                      why="pinned CPU brought online (device.pin)"))
    _plan_cpufreq(out, facts, device, sysfs)
    procfs = device.procfs.rstrip("/")
    want = required_map_count(bench) if device.max_map_count == "auto" else int(device.max_map_count or 0)
    if want and facts.max_map_count is not None and facts.max_map_count < want:
        out.actions.append(Action("file", "vm.max_map_count", f"{procfs}/sys/vm/max_map_count", str(want),
                                  why=f"{max(bench.vma_counts)} VMAs need {want} maps, the device allows "
                                      f"{facts.max_map_count}"))
    if profiling:
        # kernel symbols and kernel call chains for the profiler (profile.enabled)
        if facts.kptr_restrict not in (None, 0):
            out.actions.append(Action("file", "kernel.kptr_restrict", f"{procfs}/sys/kernel/kptr_restrict", "0",
                                      why="kernel addresses readable, so profiles name kernel functions"))
        if facts.perf_event_paranoid not in (None, -1):
            out.actions.append(
                Action(
                    "file",
                    "kernel.perf_event_paranoid",
                    f"{procfs}/sys/kernel/perf_event_paranoid",
                    "-1",
                    why="kernel samples and call chains for the profiler",
                )
            )
    return out


CLOCK_WARNINGS = ("clocks not locked", "cpufreq not available")


def for_the_clock(warnings: list[str], clock: object) -> list[str]:
    """The warnings that matter on a target whose time is `clock` (its transport's info): under
    icount a time counts guest instructions (1 ns each), so what the CPU frequency is does not
    matter and its warnings are left out."""
    return [w for w in warnings if clock != "icount" or not w.startswith(CLOCK_WARNINGS)]


def _plan_cpufreq(out: TuningPlan, facts: Facts, device: DeviceConfig, sysfs: str) -> None:
    cf = device.cpufreq
    if cf is None:
        out.warnings.append("clocks not locked: device.cpufreq is not set")
        return
    if not facts.cpufreq:
        out.warnings.append("cpufreq not available: frequency not locked")
        return
    cpus = cf.cpus if cf.cpus is not None else device.pin
    policies = select_policies(facts.cpufreq, cpus)
    if not policies:
        out.warnings.append(f"clocks not locked: no cpufreq policy covers CPUs {list(cpus or [])}")
        return
    for p in policies:
        try:
            check_governor(p, cf.governor)
            khz, why = choose_khz(p, cf.khz)
        except CpufreqChoiceError as exc:
            out.warnings.append(f"clocks not locked on {p.name}: {exc}")
            continue
        base = f"{sysfs}/devices/system/cpu/cpufreq/{p.name}"
        label = f"{p.name} (CPUs {','.join(map(str, p.cpus)) or '?'})"
        out.actions.append(Action("file", f"{p.name} scaling_governor", f"{base}/scaling_governor", cf.governor,
                                  why=f"{label}: governor {cf.governor} (device.cpufreq.governor)"))
        out.actions.append(Action("range", f"{p.name} scaling_min_freq/scaling_max_freq", f"{base}/scaling_min_freq",
                                  f"{khz} {khz}", why=f"{label}: {why}"))
        if cf.governor == "userspace":
            out.actions.append(Action("setspeed", f"{p.name} scaling_setspeed", f"{base}/scaling_setspeed", str(khz),
                                      why=f"{label}: userspace governor runs at scaling_setspeed"))
        out.locked_khz[p.name] = khz


def _not_root_warnings(out: TuningPlan, facts: Facts, device: DeviceConfig, bench: BenchmarkConfig) -> None:
    asked = []
    if device.stop_framework and facts.android:
        asked.append("framework not stopped")
    if device.cpufreq is not None:
        asked.append("clocks not locked")
    else:
        out.warnings.append("clocks not locked: device.cpufreq is not set")
    if device.pin and any(c not in parse_cpu_list(facts.cpus_online) for c in device.pin):
        asked.append("offline pinned CPUs not brought online")
    out.warnings.append("not root: device settings were not changed" + (f" ({', '.join(asked)})" if asked else ""))
