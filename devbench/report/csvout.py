"""CSV: one line per target, VMA count and scenario (or per target pairing, VMA count, scenario and
arm) (pure). Each line has the added time per fork in µs (named minus unnamed, or B minus A)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from devbench.analysis import ArmStats, Row
from devbench.analysis.sweep import point
from devbench.report.table import change_of

ARM_FIELDS = ("n", "batches", "mean", "median", "stdev", "mad", "min", "max", "p5", "p25", "p75", "p95", "p99")
SWEEP_FIELDS = ("added_us", "added_ci_low_us", "added_ci_high_us")  # B minus A per fork, µs (devbench.analysis.sweep)
EFFECT_FIELDS = ("change_pct", "ci_low_pct", "ci_high_pct", "design", "unit", "units", "p", "p_holm", "p_welch",
                 "p_mwu", "cliffs_delta", "verdict", "more_forks")


def header(names: Sequence[str]) -> list[str]:
    """The columns: what a row is (target, kernel, arch, against, vmas, scenario, arm, pages),
    each side's arm statistics (prefixed by its name), the effect, a sweep's fields, the warnings."""
    arm = [f"{k}{'' if k in ('n', 'batches') else '_ms'}" for k in ARM_FIELDS] + [
        "outliers",
        "drift_pct",
        "first_batch_pct",
    ]
    return ["target", "kernel", "arch", "against", "vmas", "scenario", "arm", "pages",
            *(f"{p}_{k}" for p in names for k in arm), *EFFECT_FIELDS, *SWEEP_FIELDS, "margin_pct", "warnings"]


def target_warnings(data: Mapping[str, Any]) -> dict[str, str]:
    """Each target's warnings, as one cell (" | " between them), for every line of that target;
    a target whose kernels the run compared: its kernels' warnings (each once), for its kernels rows."""
    records = [t for t in data.get("targets") or [] if isinstance(t, dict)]
    out = {str(t.get("name")): " | ".join(str(w) for w in t.get("warnings") or []) for t in records}
    sets: dict[str, list[str]] = {}
    for t in records:
        if isinstance(t.get("kernels_of"), str):
            sets.setdefault(t["kernels_of"], []).extend(str(w) for w in t.get("warnings") or [])
    out.update({owner: " | ".join(dict.fromkeys(ws)) for owner, ws in sets.items() if owner not in out})
    return out


def _arm(prefix: str, arm: ArmStats | None) -> dict[str, Any]:
    out = {
        f"{prefix}_{k}{'' if k in ('n', 'batches') else '_ms'}": (getattr(arm, k) if arm else None) for k in ARM_FIELDS
    }
    out[f"{prefix}_outliers"] = arm.outliers.count if arm else None
    out[f"{prefix}_drift_pct"] = arm.drift.change_pct if arm else None
    out[f"{prefix}_first_batch_pct"] = arm.warmup.first_batch_pct if arm else None
    return out


def line(row: Row, names: Sequence[str]) -> dict[str, Any]:
    e = row.effect
    out: dict[str, Any] = {"target": row.target, "kernel": row.kernel, "arch": row.arch, "against": row.base_kernel,
                           "vmas": row.vmas, "scenario": row.scenario, "arm": row.arm, "pages": row.pages}
    out.update(_arm(names[0], row.base))
    out.update(_arm(names[1], row.other))
    out.update({k: getattr(e, k, None) if e else None for k in EFFECT_FIELDS})
    out.update(change_pct=change_of(row),
               p_holm=row.p_holm, verdict=row.verdict.label, more_forks=row.verdict.more_forks)
    p = point(row)  # the time B (named) adds per fork over A (unnamed), in µs: a sweep's y axis
    ci = p.added_ci_us if p is not None else None
    out.update(added_us=p.added_us if p is not None else None, added_ci_low_us=ci[0] if ci else None,
               added_ci_high_us=ci[1] if ci else None)
    return out


def render_csv(rows: Iterable[Row], names: Sequence[str] = ("unnamed", "named"),
               warnings: Mapping[str, str] | None = None, kernel_rows: Sequence[Row] = (),
               margin_pct: float | None = None) -> str:
    """``warnings``: target -> its warnings cell (a run's, see target_warnings; empty for compare).
    ``kernel_rows``: a run's kernels table (kernel B against kernel A, `against`), after its
    rows, kernel A's arm in the a_ columns and kernel B's in the b_ columns (empty on the others).
    ``margin_pct``: the verdicts' margin, on every line (the verdict's words depend on it)."""
    buf = io.StringIO()
    fields = header((*names, "a", "b") if kernel_rows else names)
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        cells = {**line(row, names), "margin_pct": margin_pct, "warnings": (warnings or {}).get(row.target, "")}
        writer.writerow({k: cell(v) for k, v in cells.items()})
    for row in kernel_rows:
        cells = {**line(row, ("a", "b")), "margin_pct": margin_pct, "warnings": (warnings or {}).get(row.target, "")}
        writer.writerow({k: cell(v) for k, v in cells.items()})
    return buf.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell as a spreadsheet must read it: text (a target, scenario or warning, which may
    come from a device or a results file) that starts like a formula gets a leading ' so that
    it stays text; numbers stay numbers (a negative change is -1.5, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
