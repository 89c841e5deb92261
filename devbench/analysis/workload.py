"""Did the two sides of a comparison measure the same thing? (pure)

A change between runs means something only when the workload is the same: the VMA count, each
scenario's pages, the scenario set, the clock (a QEMU guest under instruction counting times
guest instructions, 1 ns each; every other target wall time), the payload and the
architecture. The kernel is what a comparison is for: it differs freely (and is shown).
A value a run does not record (an older results.json) is not a difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devbench.analysis.model import Mismatch

CLOCKS = {"icount": "icount (guest instructions, 1 ns each)", "real": "real (wall time)"}


def _target(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == name), {})


def _starts(data: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """The payload's start records of the target (what each process was asked to run)."""
    return [c for c in data.get("checks") or [] if isinstance(c, dict) and c.get("check") == "start"
            and c.get("target") == target]


def _bench(data: dict[str, Any]) -> dict[str, Any]:
    bench = (((data.get("run") or {}).get("config") or {}).get("benchmark")) or {}
    return bench if isinstance(bench, dict) else {}


def scenarios(data: dict[str, Any]) -> dict[str, Any]:
    """Scenario name -> pages, as the run's config had them."""
    return {str(sc.get("name")): sc.get("pages") for sc in _bench(data).get("scenarios") or [] if isinstance(sc, dict)}


def vmas(data: dict[str, Any], target: str) -> str | None:
    """The VMA counts the target's processes ran (a sweep: several, ascending), else the config's."""
    found = {str(c["vmas"]) for c in _starts(data, target) if c.get("vmas") is not None}
    if not found and _bench(data).get("vmas") is not None:
        given = _bench(data)["vmas"]
        found = {str(v) for v in given} if isinstance(given, list) else {str(given)}
    return ", ".join(sorted(found, key=lambda v: (not v.isdigit(), len(v), v))) or None


def clock(data: dict[str, Any], target: str) -> str | None:
    """icount or real: a QEMU guest records its clock in its transport info; every other transport
    times wall time."""
    t = _target(data, target)
    recorded = (t.get("transport_info") or {}).get("clock")
    if recorded:
        return CLOCKS.get(str(recorded), str(recorded))
    if t.get("transport") in (None, "qemu"):  # not recorded, or an older QEMU record: from the config
        cfg = next((c for c in ((data.get("run") or {}).get("config") or {}).get("targets") or []
                    if isinstance(c, dict) and c.get("name") == target), {})
        if not isinstance(cfg.get("qemu"), dict):
            return None if t.get("transport") is None else CLOCKS["real"]
        return CLOCKS.get(str(cfg["qemu"].get("clock") or "real"))
    return CLOCKS["real"]


def arch(data: dict[str, Any], target: str) -> str | None:
    facts = _target(data, target).get("facts") or {}
    return facts.get("abi") or facts.get("machine") or None


def payload_version(data: dict[str, Any], target: str) -> str | None:
    found = {str(c["payload_version"]) for c in _starts(data, target) if c.get("payload_version") is not None}
    return ", ".join(sorted(found)) or None


def payload_sha256(data: dict[str, Any], target: str) -> str | None:
    sha = (_target(data, target).get("payload") or {}).get("sha256")
    return str(sha)[:12] if sha else None


PER_TARGET = (("VMAs", vmas), ("clock", clock), ("arch", arch), ("payload version", payload_version),
              ("payload sha256", payload_sha256))


def _values(runs: Sequence[dict[str, Any]], target: str, read: Any) -> list[str]:
    return sorted({v for d in runs if (v := read(d, target)) is not None})


def mismatches(runs_a: Sequence[dict[str, Any]], runs_b: Sequence[dict[str, Any]],
               pairs: Sequence[tuple[str, str]]) -> tuple[Mismatch, ...]:
    """Each field whose values differ between the sides (every run of a side counted), with both
    sides' values; per target pairing for what a target records."""
    out: list[Mismatch] = []
    sets = [sorted({f"{n} ({p} pages)" for d in side for n, p in scenarios(d).items()}) for side in (runs_a, runs_b)]
    if all(sets) and sets[0] != sets[1]:
        out.append(Mismatch("scenarios", "; ".join(sets[0]), "; ".join(sets[1])))
    common = [n for n in dict.fromkeys(n for d in runs_a for n in scenarios(d))
              if any(n in scenarios(d) for d in runs_b)]
    for name in common:
        pa, pb = ({str(scenarios(d)[name]) for d in side if name in scenarios(d)} for side in (runs_a, runs_b))
        if pa != pb:
            out.append(Mismatch(f"pages of {name!r}", ", ".join(sorted(pa)), ", ".join(sorted(pb))))
    for ta, tb in pairs:
        where = "" if len(pairs) == 1 else (ta if ta == tb else f"{ta} → {tb}")
        for field, read in PER_TARGET:
            va, vb = _values(runs_a, ta, read), _values(runs_b, tb, read)
            if field == "payload sha256" and (_values(runs_a, ta, arch) != _values(runs_b, tb, arch)):
                continue  # another architecture is another binary: the arch line says it
            if va and vb and va != vb:
                out.append(Mismatch(field, ", ".join(va), ", ".join(vb), where))
    return tuple(out)
