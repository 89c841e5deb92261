"""Facts about a device, from one fixed shell script (no user data in it) and a pure parser."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from devbench.device.cpufreq import Policy, policy_from_files
from devbench.errors import TargetError
from devbench.targets.base import Target

# $1 is the sysfs root and $2 the procfs root (positional parameters, never command text).
# Every value read from the device (properties, uname, sysfs and procfs files) goes through
# `kv`: printed with printf '%s' (dash's echo turns a "\n" in it into a newline) and cut at its
# first newline, so no byte of it can start a line (a fact) of its own. Names taken from the
# device's directories (policyN, thermal_zoneN, power supplies) are used only when they are
# plain ([A-Za-z0-9_.-]); parse_facts checks them again.
PROBE_SCRIPT = r"""
S=$1 P=$2
kv() { printf '%s=%s\n' "$1" "${2%%
*}"; }
plain() { case $1 in ''|*[!A-Za-z0-9_.-]*) return 1;; esac; }
kv machine "$(uname -m)"
kv kernel "$(uname -r)"
kv kernel_build "$(uname -v)"
for prop in ro.build.version.sdk ro.product.cpu.abi ro.product.model ro.kernel.qemu ro.boot.qemu \
            ro.build.type ro.debuggable ro.build.fingerprint sys.boot_completed init.svc.zygote; do
  kv "prop:$prop" "$(getprop "$prop" 2>/dev/null)"
done
kv uid "$(id -u 2>/dev/null)"
kv cpus "$(grep -c '^processor' "$P/cpuinfo" 2>/dev/null)"
kv online "$(cat "$S/devices/system/cpu/online" 2>/dev/null)"
kv present "$(cat "$S/devices/system/cpu/present" 2>/dev/null)"
kv max_map_count "$(cat "$P/sys/vm/max_map_count" 2>/dev/null)"
kv kptr_restrict "$(cat "$P/sys/kernel/kptr_restrict" 2>/dev/null)"
kv perf_event_paranoid "$(cat "$P/sys/kernel/perf_event_paranoid" 2>/dev/null)"
kv pagesize "$(getconf PAGESIZE 2>/dev/null)"
kv selinux "$(getenforce 2>/dev/null || cat "$S/fs/selinux/enforce" 2>/dev/null)"
kv taskset "$(command -v taskset 2>/dev/null)"
grep -E '^(MemTotal|MemAvailable):' "$P/meminfo" 2>/dev/null
{ zcat "$P/config.gz" 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } \
  | grep -E '^(# )?CONFIG_(ANON_VMA_NAME|PERF_EVENTS|IKCONFIG_PROC|KASAN|PROVE_LOCKING|DEBUG_VM|DEBUG_PAGEALLOC|KCSAN|SLUB_DEBUG_ON|DEBUG_KMEMLEAK)[ =]' \
  | sed 's/^/kconfig:/'
for d in "$S"/devices/system/cpu/cpufreq/policy*; do
  [ -d "$d" ] && plain "${d##*/}" || continue
  for f in related_cpus affected_cpus scaling_governor scaling_available_governors scaling_available_frequencies \
           scaling_min_freq scaling_max_freq cpuinfo_min_freq cpuinfo_max_freq scaling_cur_freq scaling_setspeed; do
    [ -e "$d/$f" ] && kv "cpufreq:${d##*/}:$f" "$(cat "$d/$f" 2>/dev/null)"
  done
done
for z in "$S"/class/thermal/thermal_zone*; do
  [ -d "$z" ] && plain "${z##*/}" || continue
  kv "thermal:${z##*/}:type" "$(cat "$z/type" 2>/dev/null)"
  kv "thermal:${z##*/}:temp" "$(cat "$z/temp" 2>/dev/null)"
  for t in "$z"/trip_point_*_temp; do
    [ -e "$t" ] || continue
    b=${t%_temp}
    plain "${b##*/}" || continue
    v=$(cat "$t" 2>/dev/null) w=$(cat "${b}_type" 2>/dev/null)
    kv "thermal:${z##*/}:${b##*/}" "${v%%
*} ${w%%
*}"
  done
done
for b in "$S"/class/power_supply/*; do
  plain "${b##*/}" || continue
  [ "$(cat "$b/type" 2>/dev/null)" = Battery ] || continue
  kv "battery:${b##*/}" "$(cat "$b/capacity" 2>/dev/null)"
done
echo "probe=done"
"""  # noqa: E501 (the kconfig grep line: one pattern, as the shell runs it)

_ABI = {
    "aarch64": "aarch64", "arm64": "aarch64", "arm64-v8a": "aarch64",
    "x86_64": "x86_64", "amd64": "x86_64",
    "armv7l": "armv7", "armv8l": "armv7", "armv7": "armv7", "armeabi-v7a": "armv7",
    "riscv64": "riscv64",
}


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_]{1,64})?")  # prop name, or object:attribute

_DEBUG_OPTIONS = {"KASAN", "PROVE_LOCKING", "DEBUG_VM", "DEBUG_PAGEALLOC", "KCSAN", "SLUB_DEBUG_ON", "DEBUG_KMEMLEAK"}


@dataclass(frozen=True)
class TripPoint:
    name: str  # trip_point_0
    temp: int  # millidegrees C
    type: str  # passive, hot, critical, active


@dataclass(frozen=True)
class ThermalZone:
    name: str
    type: str
    temp: int | None  # millidegrees C
    trips: tuple[TripPoint, ...] = ()

    def over_trip(self, temp: int | None = None) -> TripPoint | None:
        """The lowest throttling trip (passive/hot/critical) that `temp` (or the probed temp) reaches."""
        t = self.temp if temp is None else temp
        if t is None:
            return None
        hit = [tp for tp in self.trips if tp.type in ("passive", "hot", "critical") and tp.temp > 0 and t >= tp.temp]
        return min(hit, key=lambda tp: tp.temp) if hit else None


@dataclass(frozen=True)
class Facts:
    abi: str | None
    machine: str
    kernel_release: str
    kernel_build: str
    android: bool
    android_sdk: int | None
    model: str | None
    root: bool
    cpus: int | None
    cpus_online: str | None
    mem_total_kb: int | None
    mem_available_kb: int | None
    max_map_count: int | None
    page_size: int | None
    kernel_config: dict[str, str] = field(default_factory=dict)  # e.g. {"ANON_VMA_NAME": "y"}; empty if unreadable
    emulator: bool = False  # an Android emulator (ro.kernel.qemu / ro.boot.qemu)
    uid: int | None = None
    cpus_present: str | None = None
    kptr_restrict: int | None = None
    perf_event_paranoid: int | None = None
    selinux: str | None = None  # Enforcing / Permissive / Disabled, or 1/0 from selinuxfs
    taskset: bool = False
    props: dict[str, str] = field(default_factory=dict)  # Android properties read (empty values left out)
    cpufreq: tuple[Policy, ...] = ()
    thermal: tuple[ThermalZone, ...] = ()
    battery_pct: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def framework_running(self) -> bool | None:
        """Android's framework (zygote) running? None on Linux or when unknown."""
        state = self.props.get("init.svc.zygote")
        return None if not self.android or not state else state == "running"

    @property
    def debug_kernel_options(self) -> list[str]:
        return sorted(k for k, v in self.kernel_config.items() if v == "y" and k in _DEBUG_OPTIONS)

    @property
    def has_anon_vma_name(self) -> bool | None:
        """True/False when the kernel config says so, None when it could not be read."""
        if not self.kernel_config:
            return None
        return self.kernel_config.get("ANON_VMA_NAME") == "y"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_facts(text: str) -> Facts:
    kv: dict[str, str] = {}
    kconfig: dict[str, str] = {}
    mem: dict[str, int | None] = {}
    props: dict[str, str] = {}
    policies: dict[str, dict[str, str]] = {}
    zones: dict[str, dict[str, str]] = {}
    batteries: list[int] = []
    for line in text.split("\n"):  # not splitlines(): \r, \x1e, \u2028 in a device string end no line
        line = line.strip()
        head, _, rest = line.partition(":")
        if head in ("prop", "cpufreq", "thermal", "battery") and "=" in rest:
            key, _, value = rest.partition("=")
            if not _NAME.fullmatch(key):
                continue  # only names the probe script prints (policyN:file, thermal_zoneN:type, ...)
            if head == "prop":
                if value:
                    props[key] = value
            elif head == "battery":
                level = _int(value)
                if level is not None:
                    batteries.append(level)
            else:
                obj, _, attr = key.partition(":")
                (policies if head == "cpufreq" else zones).setdefault(obj, {})[attr] = value
        elif line.startswith("kconfig:"):
            body = line[len("kconfig:"):]
            if body.startswith("# CONFIG_") and body.endswith(" is not set"):
                kconfig[body[len("# CONFIG_"):-len(" is not set")]] = "n"
            elif body.startswith("CONFIG_") and "=" in body:
                k, v = body[len("CONFIG_"):].split("=", 1)
                kconfig[k] = v
        elif line.startswith(("MemTotal:", "MemAvailable:")):
            k, rest = line.split(":", 1)
            mem[k] = _int(rest.split()[0]) if rest.split() else None
        elif "=" in line:
            k, v = line.split("=", 1)
            kv.setdefault(k, v.strip())  # the script prints each key once: a second one is not believed
    machine = kv.get("machine", "")
    sdk = _int(props.get("ro.build.version.sdk"))
    abi = _ABI.get(machine) or _ABI.get(props.get("ro.product.cpu.abi", ""))
    return Facts(
        abi=abi,
        machine=machine,
        kernel_release=kv.get("kernel", ""),
        kernel_build=kv.get("kernel_build", ""),
        android=sdk is not None,
        android_sdk=sdk,
        model=props.get("ro.product.model"),
        root=kv.get("uid") == "0",
        cpus=_int(kv.get("cpus")),
        cpus_online=kv.get("online") or None,
        mem_total_kb=mem.get("MemTotal"),
        mem_available_kb=mem.get("MemAvailable"),
        max_map_count=_int(kv.get("max_map_count")),
        page_size=_int(kv.get("pagesize")),
        kernel_config=kconfig,
        emulator=sdk is not None and "1" in (props.get("ro.kernel.qemu"), props.get("ro.boot.qemu")),
        uid=_int(kv.get("uid")),
        cpus_present=kv.get("present") or None,
        kptr_restrict=_int(kv.get("kptr_restrict")),
        perf_event_paranoid=_int(kv.get("perf_event_paranoid")),
        selinux=kv.get("selinux") or None,
        taskset=bool(kv.get("taskset")),
        props=props if sdk is not None else {},
        cpufreq=tuple(policy_from_files(n, f) for n, f in sorted(policies.items(), key=lambda i: _natural(i[0]))),
        thermal=tuple(_zone(n, f) for n, f in sorted(zones.items(), key=lambda i: _natural(i[0]))),
        battery_pct=min(batteries) if batteries else None,
    )


def _natural(name: str) -> tuple[str, int]:
    digits = name.rstrip("0123456789")
    return digits, int(name[len(digits):] or -1)


def _zone(name: str, files: dict[str, str]) -> ThermalZone:
    trips = []
    for key, value in files.items():
        if key.startswith("trip_point_"):
            parts = value.split()
            temp = _int(parts[0]) if parts else None
            if temp is not None:
                trips.append(TripPoint(key, temp, parts[1] if len(parts) > 1 else ""))
    return ThermalZone(name, files.get("type", ""), _int(files.get("temp")), tuple(sorted(trips, key=lambda t: t.temp)))


def probe(target: Target, sysfs: str = "/sys", procfs: str = "/proc") -> Facts:
    res = target.run(["sh", "-c", PROBE_SCRIPT, "sh", sysfs, procfs], timeout=60)
    if "probe=done" not in res.stdout:
        raise TargetError(
            target.name, "probe", f"the device's shell did not run the probe (exit {res.exit_code}: {res.last_words()})"
        )
    facts = parse_facts(res.stdout)
    if facts.abi is None:
        raise TargetError(
            target.name,
            "probe",
            f"unsupported CPU architecture {facts.machine!r} (devbench builds for aarch64, x86_64, armv7, riscv64)",
        )
    return facts
