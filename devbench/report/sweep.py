"""A VMA-count sweep in words and numbers (pure): the table of the added time per fork against
the VMA count, and the sentence that says what the sweep finds at 4096 VMAs, where the seed's
cover letter calls the regression "at the noise level" (devbench.analysis.sweep).

Under instruction counting (a QEMU guest with clock: icount) a time is the instruction-path
cost, 1 ns per guest instruction: every table and sentence here says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devbench.analysis.sweep import (
    ABOVE,
    ANDROID_VMAS,
    BELOW,
    CROSSES,
    NO_CI,
    WITHIN,
    Finding,
    SweepPoint,
    SweepSeries,
    at_android,
)
from devbench.report.table import fmt_ci, fmt_pct

SWEEP_HEADER = ("scenario", "VMAs", "added/fork", "95% CI (µs)", "REGRESSION", "95% CI")
ICOUNT_WORDS = "instruction-path cost under icount (1 ns per guest instruction), not a device's timing"
SEED_WORDS = ("about what Android processes really reach, where the seed's cover letter calls the regression "
              "“at the noise level”")
STANDING = {WITHIN: "below the ±{m}% margin", ABOVE: "above the ±{m}% margin", BELOW: "below -{m}%, past the margin",
            CROSSES: "the CI crosses the ±{m}% margin", NO_CI: "no CI"}


def fmt_us(value: float | None) -> str:
    """An added time in µs per fork, signed, to the precision a fork time of ms needs."""
    if value is None:
        return "-"
    return f"{value:+.3g}µs" if abs(value) < 1 else f"{value:+.2f}µs"


def fmt_ci_us(ci: tuple[float, float] | None) -> str:
    if ci is None:
        return "-"
    lo, hi = fmt_us(ci[0]).removesuffix("µs"), fmt_us(ci[1]).removesuffix("µs")
    return f"[{lo}, {hi}]"


def sweep_cells(s: SweepSeries, p: SweepPoint) -> tuple[str, ...]:
    """One point as a line of the sweep table."""
    ci = p.ci_pct
    return (s.scenario, str(p.vmas), fmt_us(p.added_us), fmt_ci_us(p.added_ci_us),
            fmt_pct(p.change_pct), fmt_ci(ci[0], ci[1]) if ci else "-")


def sweep_table_rows(all_series: Sequence[SweepSeries], target: str) -> list[tuple[str, ...]]:
    return [sweep_cells(s, p) for s in all_series if s.target == target for p in s.points]


def sweep_title(clock: Any) -> str:
    """The sweep table's title: what the added time is."""
    what = f", the {ICOUNT_WORDS}" if clock == "icount" else ""
    return f"Added time per fork, named vs unnamed VMAs, against the VMA count{what}:"


def _part(f: Finding, name_count: bool) -> str:
    p = f.point
    ci = p.ci_pct
    at = f" at {p.vmas} VMAs" if name_count else ""
    ci_text = f", CI {fmt_ci(ci[0], ci[1])}" if ci else ""
    return (f"{f.scenario}{at} {fmt_us(p.added_us)}/fork ({fmt_pct(p.change_pct)}){ci_text}: "
            f"{STANDING[f.standing].format(m=f'{f.margin_pct:g}')}")


def conclusion(findings: Sequence[Finding]) -> str:
    """Whether devbench's numbers agree with "at the noise level", and where they do not."""
    m = f"{findings[0].margin_pct:g}"
    above = [f.scenario for f in findings if f.standing == ABOVE]
    below = [f.scenario for f in findings if f.standing == BELOW]
    open_ = [f.scenario for f in findings if f.standing in (CROSSES, NO_CI)]
    if not above and not below and not open_:
        return f"devbench's numbers agree: the regression is within ±{m}% in every scenario"
    parts = []
    if above:
        parts.append(f"devbench's numbers do not agree in {', '.join(above)}: the regression is above ±{m}% there")
    if below:
        parts.append(f"the named arm is faster beyond -{m}% in {', '.join(below)}")
    if open_:
        parts.append(f"devbench cannot tell yet in {', '.join(open_)} (more batches would decide)")
    return "; ".join(parts)


def sentence(findings: Sequence[Finding], clock: Any = None) -> str:
    """One target's finding at 4096 VMAs, plainly: "At 4096 VMAs (about what Android processes
    really reach, ...): unpopulated +0.72µs/fork (+1.25%), CI [+1.24%, +1.26%]: above the ±1%
    margin; ... . devbench's numbers do not agree in unpopulated: ...". A sweep without 4096
    speaks of its count nearest to it, and says so."""
    if not findings:
        return ""
    counts = {f.point.vmas for f in findings}
    one = next(iter(counts)) if len(counts) == 1 else None
    if one == ANDROID_VMAS:
        lead = f"At {ANDROID_VMAS} VMAs ({SEED_WORDS})"
    elif one is not None:
        lead = (f"At {one} VMAs, this sweep's count nearest {ANDROID_VMAS} ({SEED_WORDS}; {ANDROID_VMAS} was not "
                "measured)")
    else:
        lead = f"Nearest {ANDROID_VMAS} VMAs ({SEED_WORDS})"
    icount = f" Times are the {ICOUNT_WORDS}." if clock == "icount" else ""
    parts = "; ".join(_part(f, one is None) for f in findings)
    return f"{lead}: {parts}. {conclusion(findings)}.{icount}"


def target_sentence(all_series: Sequence[SweepSeries], target: str, margin_pct: float, clock: Any = None) -> str:
    """The sentence of one target ("" when its rows are not a sweep)."""
    return sentence(at_android([s for s in all_series if s.target == target], margin_pct), clock)


def sweep_json(all_series: Sequence[SweepSeries], target: str, margin_pct: float, clock: Any = None
               ) -> dict[str, Any] | None:
    """The JSON summary's `sweep` of one target: every point per scenario, the finding at 4096
    and its sentence; None when the target's rows are not a sweep."""
    mine = [s for s in all_series if s.target == target]
    if not mine:
        return None
    findings = at_android(mine, margin_pct)
    return {
        "time": "instruction-path cost (icount)" if clock == "icount" else "wall time",
        "series": [{"scenario": s.scenario, "pages": s.pages, "points": [p.to_json() for p in s.points]}
                   for s in mine],
        "at_4096": [{"scenario": f.scenario, "vmas": f.point.vmas, "exact": f.exact, "standing": f.standing,
                     "margin_pct": f.margin_pct, "added_us": f.point.added_us, "change_pct": f.point.change_pct,
                     "ci_pct": list(f.point.ci_pct) if f.point.ci_pct else None} for f in findings],
        "sentence": sentence(findings, clock),
    }
