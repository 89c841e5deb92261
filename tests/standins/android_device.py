"""A STAND-IN Android device tree, laid out inside a real device through its real transport.

Not Android: a sysfs/procfs tree shaped like a phone's (two cpufreq policies, a thermal
zone, a battery) under ROOT/sys and ROOT/proc, plus stand-in getprop/setprop/stop/start
(tests/standins/android/) whose properties are files. devbench is pointed at the tree with
device.sysfs/device.procfs; every read and write goes over the target's transport (adb, SSH,
or local). Tests assert on this tree's state, not on the commands devbench sent.
"""

from __future__ import annotations

from pathlib import Path

from devbench.targets.base import Target

STANDINS = Path(__file__).with_name("android")
PROPS_DIR = "/data/local/tmp/standin-props"
COMMANDS = ("getprop", "setprop", "stop", "start")

POLICIES = {
    "policy0": {"related_cpus": "0 1 2 3", "scaling_governor": "schedutil",
                "scaling_available_frequencies": "300000 576000 1017600 1420800 1804800",
                "scaling_min_freq": "300000", "scaling_max_freq": "1804800",
                "cpuinfo_min_freq": "300000", "cpuinfo_max_freq": "1804800", "scaling_cur_freq": "576000"},
    "policy4": {"related_cpus": "4 5 6 7", "scaling_governor": "schedutil",
                "scaling_available_frequencies": "710400 1440000 2016000 2419200 2841600",
                "scaling_min_freq": "710400", "scaling_max_freq": "2841600",
                "cpuinfo_min_freq": "710400", "cpuinfo_max_freq": "2841600", "scaling_cur_freq": "1440000"},
}
GOVERNORS = "schedutil performance powersave userspace"


def tree_files(*, mem_available_kb: int = 6_000_000, max_map_count: int = 1000, battery: int = 80,
               temp_mc: int = 45_000) -> dict[str, str]:
    """Relative path -> content. cpu1 is offline (pinning to it brings it online)."""
    files = {
        "sys/devices/system/cpu/online": "0,2-7",
        "sys/devices/system/cpu/present": "0-7",
        "sys/devices/system/cpu/cpu1/online": "0",
        "sys/class/thermal/thermal_zone0/type": "cpu-thermal",
        "sys/class/thermal/thermal_zone0/temp": str(temp_mc),
        "sys/class/thermal/thermal_zone0/trip_point_0_temp": "95000",
        "sys/class/thermal/thermal_zone0/trip_point_0_type": "passive",
        "sys/class/power_supply/battery/type": "Battery",
        "sys/class/power_supply/battery/capacity": str(battery),
        "proc/sys/vm/max_map_count": str(max_map_count),
        "proc/sys/kernel/kptr_restrict": "2",
        "proc/sys/kernel/perf_event_paranoid": "3",
        "proc/meminfo": f"MemTotal:        8000000 kB\nMemAvailable:    {mem_available_kb} kB",
        "proc/cpuinfo": "\n".join(f"processor\t: {i}" for i in range(8)),
    }
    for name, attrs in POLICIES.items():
        base = f"sys/devices/system/cpu/cpufreq/{name}"
        for attr, value in attrs.items():
            files[f"{base}/{attr}"] = value
        files[f"{base}/scaling_available_governors"] = GOVERNORS
        files[f"{base}/scaling_setspeed"] = "<unsupported>"
    return files


PROPS = {"ro.build.version.sdk": "34", "ro.product.cpu.abi": "x86_64", "ro.product.model": "stand-in <b>phone</b>",
         "ro.build.type": "userdebug", "ro.debuggable": "1", "init.svc.zygote": "running", "sys.boot_completed": "1"}

# $1: root; then pairs of (relative path, content). Paths and contents are positional parameters.
_LAY_OUT = r'''
R=$1; shift
while [ $# -ge 2 ]; do
  mkdir -p "$R/$(dirname "$1")" && printf '%s\n' "$2" > "$R/$1" || exit 1
  shift 2
done
'''
_READ = r'''
R=$1
cd "$R" && find . -type f | sort | while read -r f; do printf '%s\t%s\n' "${f#./}" "$(cat "$f" | tr '\n' '|')"; done
'''


def lay_out(target: Target, root: str, files: dict[str, str]) -> None:
    target.run(["rm", "-rf", root], timeout=30)
    args = [x for pair in files.items() for x in pair]
    res = target.run(["sh", "-c", _LAY_OUT, "sh", root, *args], timeout=60)
    assert res.ok, res.stderr


def read_tree(target: Target, root: str) -> dict[str, str]:
    res = target.run(["sh", "-c", _READ, "sh", root], timeout=60)
    assert res.ok, res.stderr
    out = {}
    for line in res.stdout.splitlines():
        path, _, value = line.partition("\t")
        out[path] = value.rstrip("|").replace("|", "\n")
    return out


def install(target: Target, bindir: str, props: dict[str, str] | None = None, props_dir: str = PROPS_DIR) -> None:
    for name in COMMANDS:
        target.push(STANDINS / name, f"{bindir}/{name}", 0o755)
    target.run(["rm", "-rf", props_dir], timeout=30)
    args = [x for pair in (props or PROPS).items() for x in pair]
    res = target.run(["sh", "-c", _LAY_OUT, "sh", props_dir, *args], timeout=60)
    assert res.ok, res.stderr


def uninstall(target: Target, bindir: str, props_dir: str = PROPS_DIR) -> None:
    target.run(["rm", "-rf", props_dir, *(f"{bindir}/{n}" for n in COMMANDS)], timeout=30)


def getprop(target: Target, name: str) -> str:
    return target.run(["getprop", name], timeout=30).stdout.strip()
