"""Two runs (kernel A vs B, device A vs B): per target pairing, scenario and arm, B against A."""

from __future__ import annotations

from typing import Any

from devbench.analysis.model import Comparison, Options, TargetPair
from devbench.analysis.run import finish_rows, pair_row
from devbench.analysis.samples import ARMS, ScenarioData, group, targets_in


def pair_targets(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """Same names in both runs; or, when each run has one target, those two. Notes for the rest."""
    names_a, names_b = targets_in(a), targets_in(b)
    if len(names_a) == 1 and len(names_b) == 1:
        return [(names_a[0], names_b[0])], []
    pairs = [(n, n) for n in names_a if n in names_b]
    notes = [f"target {n!r} is only in run A" for n in names_a if n not in names_b]
    notes += [f"target {n!r} is only in run B" for n in names_b if n not in names_a]
    return pairs, notes


def _run_info(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (data.get("run") or {}).get(k) for k in ("id", "name", "status", "started")}


def compare_pair(sa: list[ScenarioData], sb: list[ScenarioData], ta: str, tb: str,
                 options: Options) -> tuple[TargetPair, list[str]]:
    by_b = {sd.scenario: sd for sd in sb if sd.target == tb}
    pending, notes = [], []
    for sd in (s for s in sa if s.target == ta):
        other = by_b.pop(sd.scenario, None)
        if other is None:
            notes.append(f"{ta}: scenario {sd.scenario!r} is only in run A")
            continue
        pending += [pair_row(ta if ta == tb else f"{ta} → {tb}", sd.scenario, arm, sd.pages,
                             sd.arms[arm], other.arms[arm], False, options) for arm in ARMS]
    notes += [f"{tb}: scenario {name!r} is only in run B" for name in by_b]
    return TargetPair(ta, tb, finish_rows(pending, options)), notes


def compare(a: dict[str, Any], b: dict[str, Any], options: Options = Options()) -> Comparison:
    """Independent runs, so the design is independent (by batch means where there are enough)."""
    pairs, notes = pair_targets(a, b)
    sa, sb = group(a), group(b)
    out = []
    for ta, tb in pairs:
        tp, more = compare_pair(sa, sb, ta, tb, options)
        out.append(tp)
        notes += more
    return Comparison(options, _run_info(a), _run_info(b), tuple(out), tuple(notes))
