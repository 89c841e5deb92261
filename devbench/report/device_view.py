"""A target's device details as a reader needs them: units said and converted (pure).

results.json keeps what the device reported: temperatures in milli-degrees C (`temp_mc`,
`temp`), frequencies in kHz (`freq_khz`, `*_khz`), memory in kB. The report shows °C and MHz
beside the raw values, so "zone0=41000" reads as 41.0 °C. Anything not of the expected type
is shown as it is (a results file is untrusted), never computed with.
"""

from __future__ import annotations

from typing import Any

UNITS_NOTE = ("Units: temperatures in °C (results.json keeps the kernel's milli-degrees C, temp_mc), "
              "CPU frequencies in MHz (results.json keeps kHz, freq_khz), memory in GiB (kB in results.json).")


# results.json's keys of a target's device record, as a reader says them (others shown as they are)
LABELS = {
    "root": "root access", "pinned": "pinned to CPUs", "actions": "changes made",
    "locked_khz": "locked frequency (kHz)", "journal": "restore journal", "sysfs": "sysfs mounted at",
    "procfs": "procfs mounted at",
    "framework_stopped": "Android framework stopped",
}


def label(key: Any) -> str:
    """A results.json key as a reader says it: LABELS, else the key with spaces for underscores."""
    return LABELS.get(key, str(key).replace("_", " ")) if isinstance(key, str) else str(key)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def celsius(mc: Any) -> str:
    """Milli-degrees C as '41.0 °C'; anything else as it is."""
    return f"{mc / 1000:.1f} °C" if _num(mc) else ("-" if mc is None else str(mc))


def mhz(khz: Any) -> str:
    """kHz as '1800 MHz'; anything else as it is."""
    return f"{khz / 1000:g} MHz" if _num(khz) else ("-" if khz is None else str(khz))


def gib(kb: Any) -> str:
    return f"{kb / 1048576:.1f} GiB" if _num(kb) else "-"


def conditions_table(readings: Any) -> tuple[list[str], list[list[str]]] | None:
    """The readings between payload processes as (header, rows): one column per policy (MHz)
    and per thermal zone (°C). None when there is nothing of that shape."""
    if not isinstance(readings, list):
        return None
    rows = [r for r in readings if isinstance(r, dict)]
    policies: list[str] = []
    zones: list[str] = []
    for r in rows:
        for key, into in (("freq_khz", policies), ("temp_mc", zones)):
            part = r.get(key)
            if isinstance(part, dict):
                into += [str(k) for k in part if str(k) not in into]
    if not rows or not (policies or zones):
        return None
    header = ["when", "time", *(f"{p} (MHz)" for p in policies), *(f"{z} (°C)" for z in zones)]
    out = []
    for r in rows:
        freq = f if isinstance(f := r.get("freq_khz"), dict) else {}
        temp = t if isinstance(t := r.get("temp_mc"), dict) else {}
        out.append([str(r.get("when", "-")), str(r.get("time", "-")),
                    *(mhz(freq.get(p)) for p in policies), *(celsius(temp.get(z)) for z in zones)])
    return header, out


def facts_rows(facts: Any) -> list[tuple[str, str]]:
    """The probed facts a reader looks for, each with its unit (the rest stays in results.json)."""
    if not isinstance(facts, dict):
        return []
    out: list[tuple[str, str]] = []
    for key, label in (
        ("machine", "machine"),
        ("abi", "ABI"),
        ("kernel_release", "kernel"),
        ("model", "model"),
        ("android_sdk", "Android SDK"),
        ("cpus", "CPUs"),
        ("cpus_online", "CPUs online"),
        ("selinux", "SELinux"),
        ("max_map_count", "vm.max_map_count"),
        ("page_size", "page size (bytes)"),
        ("battery_pct", "battery (%)"),
    ):
        if facts.get(key) not in (None, ""):
            out.append((label, str(facts[key])))
    out += [("memory total", gib(facts.get("mem_total_kb"))), ("memory available", gib(facts.get("mem_available_kb")))]
    for p in facts.get("cpufreq") or []:
        if isinstance(p, dict):
            out.append((f"cpufreq {p.get('name')}", f"CPUs {p.get('cpus')}, governor {p.get('governor')}, "
                        f"now {mhz(p.get('cur_khz'))}, scaling {mhz(p.get('min_khz'))} to {mhz(p.get('max_khz'))}, "
                        f"hardware {mhz(p.get('hw_min_khz'))} to {mhz(p.get('hw_max_khz'))}"))
    for z in facts.get("thermal") or []:
        if isinstance(z, dict):
            trips = ", ".join(
                f"{t.get('type')} {celsius(t.get('temp'))}" for t in z.get("trips") or [] if isinstance(t, dict)
            )
            out.append((f"thermal {z.get('name')}", f"{z.get('type')}: {celsius(z.get('temp'))}"
                        + (f" (trip points: {trips})" if trips else "")))
    return out
