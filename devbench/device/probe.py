"""Facts about a device, from one fixed shell script (no user data in it) and a pure parser."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from devbench.errors import TargetError
from devbench.targets.base import Target

PROBE_SCRIPT = r"""
echo "machine=$(uname -m)"
echo "kernel=$(uname -r)"
echo "kernel_build=$(uname -v)"
echo "sdk=$(getprop ro.build.version.sdk 2>/dev/null)"
echo "android_abi=$(getprop ro.product.cpu.abi 2>/dev/null)"
echo "model=$(getprop ro.product.model 2>/dev/null)"
echo "kernel_qemu=$(getprop ro.kernel.qemu 2>/dev/null)"
echo "boot_qemu=$(getprop ro.boot.qemu 2>/dev/null)"
echo "uid=$(id -u 2>/dev/null)"
echo "cpus=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)"
echo "online=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
echo "max_map_count=$(cat /proc/sys/vm/max_map_count 2>/dev/null)"
echo "pagesize=$(getconf PAGESIZE 2>/dev/null)"
grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null
{ zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } \
  | grep -E '^(# )?CONFIG_(ANON_VMA_NAME|PERF_EVENTS|IKCONFIG_PROC)[ =]' | sed 's/^/kconfig:/'
echo "probe=done"
"""

_ABI = {
    "aarch64": "aarch64", "arm64": "aarch64", "arm64-v8a": "aarch64",
    "x86_64": "x86_64", "amd64": "x86_64",
    "armv7l": "armv7", "armv8l": "armv7", "armv7": "armv7", "armeabi-v7a": "armv7",
    "riscv64": "riscv64",
}


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

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
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("kconfig:"):
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
            kv[k] = v.strip()
    machine = kv.get("machine", "")
    sdk = _int(kv.get("sdk"))
    abi = _ABI.get(machine) or _ABI.get(kv.get("android_abi", ""))
    return Facts(
        abi=abi,
        machine=machine,
        kernel_release=kv.get("kernel", ""),
        kernel_build=kv.get("kernel_build", ""),
        android=sdk is not None,
        android_sdk=sdk,
        model=kv.get("model") or None,
        root=kv.get("uid") == "0",
        cpus=_int(kv.get("cpus")),
        cpus_online=kv.get("online") or None,
        mem_total_kb=mem.get("MemTotal"),
        mem_available_kb=mem.get("MemAvailable"),
        max_map_count=_int(kv.get("max_map_count")),
        page_size=_int(kv.get("pagesize")),
        kernel_config=kconfig,
        emulator=sdk is not None and "1" in (kv.get("kernel_qemu"), kv.get("boot_qemu")),
    )


def probe(target: Target) -> Facts:
    res = target.run(["sh", "-c", PROBE_SCRIPT], timeout=60)
    if "probe=done" not in res.stdout:
        raise TargetError(target.name, "probe", f"the device's shell did not run the probe (exit {res.exit_code}: {res.last_words()})")
    facts = parse_facts(res.stdout)
    if facts.abi is None:
        raise TargetError(target.name, "probe", f"unsupported CPU architecture {facts.machine!r} (devbench builds for aarch64, x86_64, armv7, riscv64)")
    return facts
