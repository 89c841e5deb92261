"""Under what conditions the numbers were taken: warnings from the facts (pure), and the
clock/temperature readings taken between payload processes (never during a timed one)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from devbench.config import DeviceConfig
from devbench.device.probe import Facts
from devbench.targets.base import Target

# $1: the sysfs root (a positional parameter, never command text)
SAMPLE_SCRIPT = r"""
S=$1
for d in "$S"/devices/system/cpu/cpufreq/policy*; do
  [ -e "$d/scaling_cur_freq" ] && echo "freq:${d##*/}=$(cat "$d/scaling_cur_freq" 2>/dev/null)"
done
for z in "$S"/class/thermal/thermal_zone*; do
  [ -e "$z/temp" ] && echo "temp:${z##*/}=$(cat "$z/temp" 2>/dev/null)"
done
echo "sample=done"
"""


def device_warnings(facts: Facts, device: DeviceConfig, *, framework_stopped: bool) -> list[str]:
    """What makes these numbers less trustworthy, after AndroidX benchmark's warnings."""
    out = []
    if facts.battery_pct is not None and facts.battery_pct < device.battery_min_pct:
        out.append(
            f"low battery: {facts.battery_pct}% (< {device.battery_min_pct}%): devices throttle or change power "
            "policy when low"
        )
    for z in facts.thermal:
        trip = z.over_trip()
        if trip is not None:
            out.append(
                f"thermal throttling seen: zone {z.name} ({z.type}) at {_c(z.temp)}, over its {trip.type} trip "
                f"point {_c(trip.temp)} before the run"
            )
    if facts.android and facts.framework_running and not framework_stopped:
        out.append(
            "framework still running: Android's framework adds background noise (device.stop_framework: true stops it)"
        )
    if facts.props.get("ro.build.type") == "eng":
        out.append(
            "eng build (ro.build.type=eng): debug features on; numbers are not those of a user or userdebug build"
        )
    debug = facts.debug_kernel_options
    if debug:
        out.append(
            f"kernel built with debug options ({', '.join('CONFIG_' + d for d in debug)}): fork times are not "
            "those of a production kernel"
        )
    return out


def parse_sample(text: str, when: str) -> dict[str, Any]:
    freq: dict[str, int] = {}
    temp: dict[str, int] = {}
    for line in text.splitlines():
        head, _, rest = line.strip().partition(":")
        name, _, value = rest.partition("=")
        if head in ("freq", "temp") and re.fullmatch(r"-?\d+", value.strip()):
            (freq if head == "freq" else temp)[name] = int(value)
    return {
        "when": when,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "freq_khz": freq,
        "temp_mc": temp,
    }


def sample(target: Target, sysfs: str, when: str) -> dict[str, Any] | None:
    """One reading of every policy's current frequency and every zone's temperature."""
    res = target.run(["sh", "-c", SAMPLE_SCRIPT, "sh", sysfs], timeout=30)
    if "sample=done" not in res.stdout:
        return None
    return parse_sample(res.stdout, when)


def throttle_warnings(samples: list[dict[str, Any]], locked_khz: dict[str, int], facts: Facts) -> list[str]:
    """Frequencies read below the locked value, and zones over a throttling trip point."""
    out = []
    for policy, khz in locked_khz.items():
        low = [(s["freq_khz"][policy], s["when"]) for s in samples if s["freq_khz"].get(policy, khz) < khz]
        if low:
            f, when = min(low)
            out.append(f"thermal throttling seen: {policy} ran at {f} kHz, below its locked {khz} kHz "
                       f"({len(low)} of {len(samples)} readings, lowest {when})")
    zones = {z.name: z for z in facts.thermal}
    for name, z in zones.items():
        hot = [
            (s["temp_mc"][name], s["when"]) for s in samples if name in s["temp_mc"] and z.over_trip(s["temp_mc"][name])
        ]
        if hot:
            t, when = max(hot)
            trip = z.over_trip(t)
            assert trip is not None
            out.append(
                f"thermal throttling seen: zone {name} ({z.type}) reached {_c(t)}, over its {trip.type} trip "
                f"point {_c(trip.temp)} ({when})"
            )
    return out


def _c(mc: int | None) -> str:
    return "?" if mc is None else f"{mc / 1000:.1f} °C"
