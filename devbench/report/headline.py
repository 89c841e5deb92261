"""One sentence per target (or target pairing) that says what the table says (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from devbench.analysis.model import FASTER, INCONCLUSIVE, NO_DIFFERENCE, NOT_MEASURED, SLOWER, Row
from devbench.results.rows import swept, with_vmas


def row_name(row: Row, vmas: bool = False) -> str:
    """A row as the report names it: the scenario (with its VMA count when `vmas`: the rows are
    a sweep), and the arm when a comparison has one."""
    return with_vmas(row.scenario, row.vmas, vmas) + (f" ({row.arm})" if row.arm else "")


def _with_ci(row: Row, vmas: bool, margin_pct: float) -> str:
    e = row.effect
    assert e is not None and e.ci_low_pct is not None and e.ci_high_pct is not None
    within = f", within ±{margin_pct:g}%" if row.verdict.negligible else ""
    return (f"{row_name(row, vmas)} ({e.change_pct:+.1f}%, 95% CI {e.ci_low_pct:+.1f}% to "
            f"{e.ci_high_pct:+.1f}%{within})")


def headline(where: str, what: str, rows: Sequence[Row], margin_pct: float) -> str:
    """where: e.g. "On phone"; what: e.g. "fork() with named VMAs is". Rows of several VMA
    counts (a sweep) are named with their count."""
    if not rows:
        return f"{where}, nothing was measured."
    sweep = swept(r.vmas for r in rows)
    parts = []
    for kind, text in ((SLOWER, "slower in"), (FASTER, "faster in")):
        hit = [r for r in rows if r.verdict.kind == kind]
        if hit:
            parts.append(f"{text} {', '.join(_with_ci(r, sweep, margin_pct) for r in hit)}")
    same = [row_name(r, sweep) for r in rows if r.verdict.kind == NO_DIFFERENCE]
    if same:
        parts.append(f"no different (within ±{margin_pct:g}%) in {', '.join(same)}")
    unsure = [row_name(r, sweep) for r in rows if r.verdict.kind == INCONCLUSIVE]
    if unsure:
        parts.append(f"not yet known in {', '.join(unsure)} (inconclusive)")
    missing = [row_name(r, sweep) for r in rows if r.verdict.kind == NOT_MEASURED]
    if missing:
        parts.append(f"not measured in {', '.join(missing)}")
    return f"{where}, {what} " + "; ".join(parts) + "."
