"""A VMA-count sweep (benchmark.vmas: a list): per target and scenario, the time the named arm
adds to a fork over the unnamed one, in µs and in %, against the VMA count; and what it says
at 4096 VMAs, where the seed puts Android's processes and calls the regression "at the noise
level" (pure).

The added time is the row's change (its paired effect, the one its CI and verdict are of)
applied to the unnamed arm's mean: added µs = change % x unnamed mean. Its CI is the change's
CI applied the same way (the unnamed mean taken as known; its own uncertainty is a small
fraction of the change's). Under instruction counting (QEMU icount) a time is the
instruction-path cost, 1 ns per guest instruction: no cache or memory effects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from devbench.analysis.model import Row, _Json
from devbench.analysis.stats import regression_pct
from devbench.results.rows import swept

ANDROID_VMAS = 4096  # "about 4000 VMAs", what Android processes really reach (the seed's cover letter)
WITHIN, ABOVE, BELOW, CROSSES, NO_CI = "within", "above", "below", "crosses", "no CI"


@dataclass(frozen=True)
class SweepPoint(_Json):
    """One VMA count of one scenario."""

    vmas: int
    unnamed_ms: float | None           # the unnamed arm's mean fork time
    change_pct: float | None           # named vs unnamed
    ci_pct: tuple[float, float] | None
    added_us: float | None             # named minus unnamed, µs per fork
    added_ci_us: tuple[float, float] | None
    verdict: str                       # the row's verdict label
    kind: str                          # the row's verdict kind (slower, no difference, ...)


@dataclass(frozen=True)
class SweepSeries(_Json):
    """One scenario of one target across the sweep's counts (ascending)."""

    target: str
    scenario: str
    pages: int | None
    points: tuple[SweepPoint, ...]


@dataclass(frozen=True)
class Finding(_Json):
    """What one scenario's sweep says at 4096 VMAs (or, when the sweep lacks it, at its count
    nearest to 4096 on a log scale): where its CI stands against the ±margin."""

    target: str
    scenario: str
    point: SweepPoint
    exact: bool                        # the sweep has 4096 itself
    standing: str                      # within, above, below, crosses (the ±margin), no CI
    margin_pct: float


def point(row: Row) -> SweepPoint | None:
    """A row as a point of its scenario's sweep (None for a row without a VMA count)."""
    if row.vmas is None:
        return None
    base = row.base.mean if row.base is not None and row.base.n else None
    e = row.effect
    change = e.change_pct if e is not None and e.change_pct is not None else regression_pct(
        base, row.other.mean if row.other is not None and row.other.n else None)
    ci = (e.ci_low_pct, e.ci_high_pct) if e is not None and e.ci_low_pct is not None \
        and e.ci_high_pct is not None else None

    def us(pct: float | None) -> float | None:
        return None if pct is None or base is None or not math.isfinite(pct) else pct / 100.0 * base * 1000.0

    lo, hi = (us(ci[0]), us(ci[1])) if ci is not None else (None, None)
    return SweepPoint(row.vmas, base, change, ci, us(change), (lo, hi) if lo is not None and hi is not None else None,
                      row.verdict.label, row.verdict.kind)


def series(rows: Sequence[Row]) -> list[SweepSeries]:
    """Per target and scenario (in the rows' order), its points by VMA count ascending; [] when
    the rows are not a sweep (one count per target)."""
    out: dict[tuple[str, str], list[tuple[Row, SweepPoint]]] = {}
    for r in rows:
        p = point(r) if r.arm is None else None
        if p is not None:
            out.setdefault((r.target, r.scenario), []).append((r, p))
    targets = {t for t, _ in out}
    keep = {t for t in targets if swept(r.vmas for r in rows if r.target == t)}
    return [SweepSeries(t, sc, pts[0][0].pages, tuple(sorted((p for _, p in pts), key=lambda p: p.vmas)))
            for (t, sc), pts in out.items() if t in keep]


def standing(p: SweepPoint, margin_pct: float) -> str:
    """Where a point's CI lies against ±margin: within it, above (or below) it, or crossing it."""
    if p.ci_pct is None:
        return NO_CI
    lo, hi = p.ci_pct
    if -margin_pct <= lo and hi <= margin_pct:
        return WITHIN
    if lo > margin_pct:
        return ABOVE
    if hi < -margin_pct:
        return BELOW
    return CROSSES


def nearest(points: Sequence[SweepPoint], vmas: int = ANDROID_VMAS) -> SweepPoint | None:
    """The point at `vmas`, else the nearest on a log scale (the smaller count on a tie)."""
    return min(points, key=lambda p: (abs(math.log2(p.vmas / vmas)), p.vmas), default=None)


def at_android(all_series: Sequence[SweepSeries], margin_pct: float) -> list[Finding]:
    """Each scenario's finding at 4096 VMAs (its nearest count when the sweep lacks 4096)."""
    out = []
    for s in all_series:
        p = nearest(s.points)
        if p is not None:
            out.append(Finding(s.target, s.scenario, p, p.vmas == ANDROID_VMAS, standing(p, margin_pct), margin_pct))
    return out
