"""The CI gate: regressions that are significant and whose CI lies above a threshold (pure).
A run that compared a target's kernels gates its kernels rows too (kernel B against kernel A)."""

from __future__ import annotations

from devbench.analysis.model import Analysis, Row
from devbench.results.rows import swept, with_vmas


def failing_rows(analysis: Analysis, threshold_pct: float, metrics: tuple[str, ...] = ("fork",)) -> list[Row]:
    """Rows with a Holm-adjusted p below alpha and a CI lower bound above threshold_pct.
    metrics: "fork" (the parent's fork(), always the gate's) and "exit" (the child's exit,
    exit_ns: gated only when asked, --gate-exit)."""
    alpha = analysis.options.alpha
    rows = ((analysis.rows() + analysis.kernel_rows() if "fork" in metrics else [])
            + (analysis.exit_rows() + analysis.kernel_exit_rows() if "exit" in metrics else []))
    return [r for r in rows
            if r.effect is not None and r.p_holm is not None and r.p_holm < alpha
            and r.effect.ci_low_pct is not None and r.effect.ci_low_pct > threshold_pct]


def describe_failure(row: Row, threshold_pct: float, sweep: bool = False) -> str:
    """One line; sweep: the row is named with its VMA count."""
    e = row.effect
    assert e is not None and e.ci_low_pct is not None and e.ci_high_pct is not None
    what = "" if row.metric == "fork" else f" ({row.metric})"
    if row.base_kernel is not None:  # a kernels row: kernel B against kernel A, one arm
        what = f" ({', '.join(x for x in (row.arm, None if row.metric == 'fork' else row.metric) if x)})"
    return (f"{row_place(row)} / {with_vmas(row.scenario, row.vmas, sweep)}{what}: regression "
            f"{e.change_pct:+.2f}% (95% CI {e.ci_low_pct:+.2f}% to {e.ci_high_pct:+.2f}%, Holm p {row.p_holm:.2g}) "
            f"is above {threshold_pct:g}%")


def row_place(row: Row) -> str:
    """What a gated row is about: its target, or a target's kernel B against its kernel A."""
    if row.base_kernel is None:
        return row.target
    return f"{row.target}{f' ({row.arch})' if row.arch else ''}: kernel {row.kernel} against {row.base_kernel}"


def gate(analysis: Analysis, threshold_pct: float, metrics: tuple[str, ...] = ("fork",)) -> list[str]:
    """One line per failing row (empty: the gate passes)."""
    sweep = swept(r.vmas for r in analysis.rows())
    return [describe_failure(r, threshold_pct, sweep) for r in failing_rows(analysis, threshold_pct, metrics)]
