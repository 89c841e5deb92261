"""plan_actions: what devbench will change on a device, from probe output and `device:` (pure)."""

from __future__ import annotations

import pytest

from devbench.config import BenchmarkConfig, CpufreqConfig, DeviceConfig, Scenario
from devbench.device.actions import TuningRequestError, plan_actions
from devbench.device.probe import parse_facts
from devbench.run.plan import MAP_COUNT_MARGIN

BENCH = BenchmarkConfig(vmas=2000, scenarios=(Scenario("one", 1),))
NEED_MAPS = 2000 + MAP_COUNT_MARGIN


def policy_lines(name: str, cpus: str, freqs: str, *, governors: str = "schedutil performance powersave userspace",
                 setspeed: bool = True) -> str:
    f = freqs.split()
    lines = [f"related_cpus={cpus}", "scaling_governor=schedutil", f"scaling_available_governors={governors}",
             f"scaling_available_frequencies={freqs}", f"scaling_min_freq={f[0]}", f"scaling_max_freq={f[-1]}",
             f"cpuinfo_min_freq={f[0]}", f"cpuinfo_max_freq={f[-1]}", f"scaling_cur_freq={f[1]}"]
    if setspeed:
        lines.append("scaling_setspeed=<unsupported>")
    return "".join(f"cpufreq:{name}:{line}\n" for line in lines)


def probe_text(
    *,
    android: bool = True,
    uid: int = 0,
    online: str = "0,2-7",
    present: str = "0-7",
    max_map_count: int = 1000,
    taskset: str = "/usr/bin/taskset",
    zygote: str = "running",
    cpufreq: bool = True,
    **policy_kw,
) -> str:
    text = "machine=aarch64\nkernel=5.15.0\nkernel_build=#1 SMP PREEMPT\n"
    if android:
        text += ("prop:ro.build.version.sdk=34\nprop:ro.product.cpu.abi=arm64-v8a\nprop:ro.product.model=Phone\n"
                 f"prop:ro.build.type=userdebug\nprop:sys.boot_completed=1\nprop:init.svc.zygote={zygote}\n")
    else:
        text += "prop:ro.build.version.sdk=\nprop:init.svc.zygote=\n"
    text += (f"uid={uid}\ncpus=8\nonline={online}\npresent={present}\nmax_map_count={max_map_count}\n"
             f"pagesize=4096\nselinux=Enforcing\ntaskset={taskset}\nMemTotal: 8000000 kB\nMemAvailable: 6000000 kB\n")
    if cpufreq:
        text += policy_lines("policy0", "0 1 2 3", "300000 576000 1017600 1420800 1804800", **policy_kw)
        text += policy_lines("policy4", "4 5 6 7", "710400 1440000 2016000 2419200 2841600", **policy_kw)
    return text + "probe=done\n"


def device(**kw) -> DeviceConfig:
    base = dict(
        stop_framework=True, cpufreq=CpufreqConfig(governor="performance", khz="max"), sysfs="/t/sys", procfs="/t/proc"
    )
    base.update(kw)
    return DeviceConfig(**base)


CPUFREQ = "/t/sys/devices/system/cpu/cpufreq"


def summary(plan):
    return [(a.kind, a.setting, a.path, a.value) for a in plan.actions]


def test_probe_text_parses_as_expected():
    f = parse_facts(probe_text())
    assert f.android and f.root and f.framework_running is True and f.taskset
    assert [p.name for p in f.cpufreq] == ["policy0", "policy4"] and f.cpufreq[1].cpus == (4, 5, 6, 7)
    assert (f.cpus_online, f.cpus_present, f.max_map_count) == ("0,2-7", "0-7", 1000)


def test_full_plan_order_values_and_paths():
    plan = plan_actions(parse_facts(probe_text()), device(pin=(1, 4)), BENCH, root=True)
    assert summary(plan) == [
        ("framework", "android framework", "", "stopped"),
        ("file", "cpu1 online", "/t/sys/devices/system/cpu/cpu1/online", "1"),
        ("file", "policy0 scaling_governor", f"{CPUFREQ}/policy0/scaling_governor", "performance"),
        ("range", "policy0 scaling_min_freq/scaling_max_freq", f"{CPUFREQ}/policy0/scaling_min_freq",
         "1804800 1804800"),
        ("file", "policy4 scaling_governor", f"{CPUFREQ}/policy4/scaling_governor", "performance"),
        ("range", "policy4 scaling_min_freq/scaling_max_freq", f"{CPUFREQ}/policy4/scaling_min_freq",
         "2841600 2841600"),
        ("file", "vm.max_map_count", "/t/proc/sys/vm/max_map_count", str(NEED_MAPS)),
    ]
    assert plan.locked_khz == {"policy0": 1804800, "policy4": 2841600}
    assert plan.pin_mask == "12" and plan.pinned == (1, 4)
    assert plan.warnings == []
    assert "1804800 kHz: the highest" in plan.actions[3].why and "policy0 (CPUs 0,1,2,3)" in plan.actions[3].why
    assert f"2000 VMAs need {NEED_MAPS} maps, the device allows 1000" == plan.actions[-1].why


def test_userspace_governor_adds_setspeed_after_range():
    cf = CpufreqConfig(governor="userspace", khz=1000000, cpus=(0,))
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, cpufreq=cf), BENCH, root=True)
    assert summary(plan) == [
        ("file", "policy0 scaling_governor", f"{CPUFREQ}/policy0/scaling_governor", "userspace"),
        ("range", "policy0 scaling_min_freq/scaling_max_freq", f"{CPUFREQ}/policy0/scaling_min_freq",
         "1017600 1017600"),
        ("setspeed", "policy0 scaling_setspeed", f"{CPUFREQ}/policy0/scaling_setspeed", "1017600"),
        ("file", "vm.max_map_count", "/t/proc/sys/vm/max_map_count", str(NEED_MAPS)),
    ]
    assert plan.locked_khz == {"policy0": 1017600}


def test_userspace_without_setspeed_warns_and_locks_nothing():
    cf = CpufreqConfig(governor="userspace", khz="max")
    plan = plan_actions(
        parse_facts(probe_text(setspeed=False)), device(stop_framework=False, cpufreq=cf), BENCH, root=True
    )
    assert [a.kind for a in plan.actions] == ["file"] and plan.actions[0].setting == "vm.max_map_count"
    assert plan.locked_khz == {}
    assert len(plan.warnings) == 2 and all("userspace needs scaling_setspeed" in w for w in plan.warnings)
    assert plan.warnings[0].startswith("clocks not locked on policy0:")


def test_pin_mask_hex_and_pin_selects_policies():
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, pin=(4, 5, 6, 7)), BENCH, root=True)
    assert plan.pin_mask == "f0" and plan.pinned == (4, 5, 6, 7)
    assert plan.locked_khz == {"policy4": 2841600}
    # CPUs 4-7 already online
    assert [a.setting for a in plan.actions] == [
        "policy4 scaling_governor",
        "policy4 scaling_min_freq/scaling_max_freq",
        "vm.max_map_count",
    ]


def test_cpufreq_cpus_override_pin():
    cf = CpufreqConfig(khz="min", cpus=(0,))
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, cpufreq=cf, pin=(4,)), BENCH, root=True)
    assert plan.locked_khz == {"policy0": 300000}
    assert plan.pin_mask == "10"


def test_fraction_per_policy():
    cf = CpufreqConfig(khz=0.5)
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, cpufreq=cf), BENCH, root=True)
    # 902400 -> 1017600 on policy0; 1420800 -> 1440000 on policy4
    assert plan.locked_khz == {"policy0": 1017600, "policy4": 1440000}


def test_no_policy_covers_the_cpus():
    cf = CpufreqConfig(cpus=(9,))
    plan = plan_actions(
        parse_facts(probe_text(present="0-15")), device(stop_framework=False, cpufreq=cf), BENCH, root=True
    )
    assert plan.warnings == ["clocks not locked: no cpufreq policy covers CPUs [9]"]


def test_max_map_count_raised_only_below_what_is_wanted():
    plan = plan_actions(
        parse_facts(probe_text(max_map_count=NEED_MAPS)), device(stop_framework=False), BENCH, root=True
    )
    assert "vm.max_map_count" not in [a.setting for a in plan.actions]
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, max_map_count=5000), BENCH, root=True)
    assert plan.actions[-1].value == "5000"
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, max_map_count=500), BENCH, root=True)
    assert "vm.max_map_count" not in [a.setting for a in plan.actions]  # the device already allows more


def test_not_root_changes_nothing():
    plan = plan_actions(parse_facts(probe_text(uid=2000)), device(pin=(1,)), BENCH, root=False)
    assert plan.actions == [] and plan.locked_khz == {}
    assert plan.warnings == ["not root: device settings were not changed "
                             "(framework not stopped, clocks not locked, offline pinned CPUs not brought online)"]
    assert plan.pin_mask == "2"  # pinning needs no root


def test_not_root_without_cpufreq_config():
    plan = plan_actions(parse_facts(probe_text(uid=2000, android=False)), device(cpufreq=None), BENCH, root=False)
    assert plan.warnings == [
        "clocks not locked: device.cpufreq is not set",
        "not root: device settings were not changed",
    ]


def test_missing_cpufreq():
    plan = plan_actions(parse_facts(probe_text(cpufreq=False)), device(stop_framework=False), BENCH, root=True)
    assert plan.warnings == ["cpufreq not available: frequency not locked"]
    assert [a.setting for a in plan.actions] == ["vm.max_map_count"]
    assert plan.locked_khz == {}


def test_cpufreq_not_configured():
    plan = plan_actions(parse_facts(probe_text()), device(stop_framework=False, cpufreq=None), BENCH, root=True)
    assert plan.warnings == ["clocks not locked: device.cpufreq is not set"]
    assert [a.setting for a in plan.actions] == ["vm.max_map_count"]


def test_pin_to_cpu_not_present():
    with pytest.raises(TuningRequestError) as exc:
        plan_actions(parse_facts(probe_text(present="0-7")), device(pin=(2, 8, 9)), BENCH, root=True)
    assert "CPU 8, 9 not present" in str(exc.value) and "(present: 0-7)" in str(exc.value)
    with pytest.raises(TuningRequestError):
        plan_actions(parse_facts(probe_text()), device(pin=(8,)), BENCH, root=False)


def test_pin_without_taskset():
    plan = plan_actions(parse_facts(probe_text(taskset="")), device(stop_framework=False, pin=(4,)), BENCH, root=True)
    assert plan.pin_mask is None and plan.pinned is None
    assert "device.pin: taskset not found on the device: the payload is not pinned" in plan.warnings


def test_stop_framework_on_linux_warns():
    plan = plan_actions(parse_facts(probe_text(android=False)), device(), BENCH, root=True)
    assert "framework" not in [a.kind for a in plan.actions]
    assert plan.warnings == ["device.stop_framework: not an Android device (no getprop): there is no framework to stop"]


def test_stop_framework_already_stopped():
    plan = plan_actions(parse_facts(probe_text(zygote="stopped")), device(), BENCH, root=True)
    assert "framework" not in [a.kind for a in plan.actions]
    assert plan.warnings == ["device.stop_framework: the Android framework was already stopped; it is left so"]
