"""CPU frequency policies: what a device offers and what to lock them at (pure).

A policy (sysfs devices/system/cpu/cpufreq/policyN) covers a cluster of CPUs. Locking one
means: a governor (performance, or userspace with scaling_setspeed), then
scaling_min_freq = scaling_max_freq = one of the policy's available frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass


class CpufreqChoiceError(ValueError):
    """What was asked cannot be done on this policy (the message says why, with the choices)."""


@dataclass(frozen=True)
class Policy:
    name: str  # "policy0"
    cpus: tuple[int, ...]  # related_cpus
    governor: str | None
    governors: tuple[str, ...]  # scaling_available_governors
    frequencies: tuple[int, ...]  # scaling_available_frequencies, ascending (empty when not exposed)
    min_khz: int | None  # scaling_min_freq
    max_khz: int | None  # scaling_max_freq
    hw_min_khz: int | None  # cpuinfo_min_freq
    hw_max_khz: int | None  # cpuinfo_max_freq
    cur_khz: int | None  # scaling_cur_freq
    setspeed: bool  # scaling_setspeed exists

    @property
    def lowest(self) -> int | None:
        return self.frequencies[0] if self.frequencies else self.hw_min_khz

    @property
    def highest(self) -> int | None:
        return self.frequencies[-1] if self.frequencies else self.hw_max_khz


def parse_cpu_list(text: str | None) -> tuple[int, ...]:
    """sysfs CPU lists: "0-3,6" or "0 1 2 3" -> (0, 1, 2, 3, 6); junk is skipped."""
    out: set[int] = set()
    for part in (text or "").replace(",", " ").split():
        lo, _, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if hi else a
        except ValueError:
            continue
        if 0 <= a <= b < 65536:
            out.update(range(a, b + 1))
    return tuple(sorted(out))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def policy_from_files(name: str, files: dict[str, str]) -> Policy:
    """A policy from its sysfs files' contents (missing files are absent from `files`)."""
    cpus = parse_cpu_list(files.get("related_cpus") or files.get("affected_cpus"))
    freqs = tuple(sorted({f for f in (_int(x) for x in files.get("scaling_available_frequencies", "").split()) if f}))
    return Policy(
        name=name,
        cpus=cpus,
        governor=files.get("scaling_governor") or None,
        governors=tuple(files.get("scaling_available_governors", "").split()),
        frequencies=freqs,
        min_khz=_int(files.get("scaling_min_freq")),
        max_khz=_int(files.get("scaling_max_freq")),
        hw_min_khz=_int(files.get("cpuinfo_min_freq")),
        hw_max_khz=_int(files.get("cpuinfo_max_freq")),
        cur_khz=_int(files.get("scaling_cur_freq")),
        setspeed="scaling_setspeed" in files,
    )


def select_policies(policies: tuple[Policy, ...] | list[Policy], cpus: tuple[int, ...] | None) -> list[Policy]:
    """The policies covering any of `cpus` (all when None)."""
    if cpus is None:
        return list(policies)
    want = set(cpus)
    return [p for p in policies if want & set(p.cpus)]


def choose_khz(policy: Policy, spec: int | float | str) -> tuple[int, str]:
    """The frequency to lock `policy` at for the asked spec, and why (one sentence)."""
    lo, hi = policy.lowest, policy.highest
    if lo is None or hi is None:
        raise CpufreqChoiceError(f"{policy.name}: no available frequencies or cpuinfo limits to choose from")
    if spec == "max":
        return hi, f"{hi} kHz: the highest of {_offer(policy)} (asked: max)"
    if spec == "min":
        return lo, f"{lo} kHz: the lowest of {_offer(policy)} (asked: min)"
    if isinstance(spec, float):
        want = round(hi * spec)
        asked = f"{spec:g} of {hi} kHz = {want} kHz"
    elif isinstance(spec, int):
        want, asked = spec, f"{spec} kHz"
    else:
        raise CpufreqChoiceError(f"{policy.name}: cannot lock at {spec!r}")
    if policy.frequencies:
        got = min(policy.frequencies, key=lambda f: (abs(f - want), -f))
        why = "exactly available" if got == want else "the nearest available"
        return got, f"{got} kHz: {why} of {_offer(policy)} (asked: {asked})"
    got = min(max(want, lo), hi)
    why = "within" if got == want else "clamped to"
    return got, f"{got} kHz: {why} the cpuinfo range {lo}-{hi} kHz, no frequency list exposed (asked: {asked})"


def _offer(policy: Policy) -> str:
    if policy.frequencies:
        if len(policy.frequencies) <= 6:
            return "available " + ", ".join(map(str, policy.frequencies)) + " kHz"
        return f"{len(policy.frequencies)} available, {policy.frequencies[0]}-{policy.frequencies[-1]} kHz"
    return f"the cpuinfo range {policy.lowest}-{policy.highest} kHz"


def check_governor(policy: Policy, governor: str) -> None:
    if policy.governors and governor not in policy.governors:
        raise CpufreqChoiceError(
            f"{policy.name}: governor {governor!r} is not offered (available: {', '.join(policy.governors)})"
        )
    if governor == "userspace" and not policy.setspeed:
        raise CpufreqChoiceError(f"{policy.name}: governor userspace needs scaling_setspeed, which this policy lacks")


def range_writes(new_min: int, new_max: int, cur_min: int | None, cur_max: int | None) -> list[tuple[str, int]]:
    """Which of scaling_min_freq/scaling_max_freq to write first so that min <= max holds at
    every step (the kernel refuses a min above the max): raising past the current max writes
    max first, anything else writes min first."""
    if cur_max is not None and new_min > cur_max:
        return [("scaling_max_freq", new_max), ("scaling_min_freq", new_min)]
    return [("scaling_min_freq", new_min), ("scaling_max_freq", new_max)]
