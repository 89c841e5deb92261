"""The CI gate: regressions that are significant and whose CI lies above a threshold (pure)."""

from __future__ import annotations

from devbench.analysis.model import Analysis, Row


def failing_rows(analysis: Analysis, threshold_pct: float, metrics: tuple[str, ...] = ("fork",)) -> list[Row]:
    """Rows with a Holm-adjusted p below alpha and a CI lower bound above threshold_pct.
    metrics: "fork" (the parent's fork(), always the gate's) and "exit" (the child's exit,
    exit_ns: gated only when asked, --gate-exit)."""
    alpha = analysis.options.alpha
    rows = (analysis.rows() if "fork" in metrics else []) + (analysis.exit_rows() if "exit" in metrics else [])
    return [r for r in rows
            if r.effect is not None and r.p_holm is not None and r.p_holm < alpha
            and r.effect.ci_low_pct is not None and r.effect.ci_low_pct > threshold_pct]


def describe_failure(row: Row, threshold_pct: float) -> str:
    e = row.effect
    assert e is not None and e.ci_low_pct is not None and e.ci_high_pct is not None
    what = "" if row.metric == "fork" else f" ({row.metric})"
    return (f"{row.target} / {row.scenario}{what}: regression {e.change_pct:+.2f}% (95% CI {e.ci_low_pct:+.2f}% to "
            f"{e.ci_high_pct:+.2f}%, Holm p {row.p_holm:.2g}) is above {threshold_pct:g}%")


def gate(analysis: Analysis, threshold_pct: float, metrics: tuple[str, ...] = ("fork",)) -> list[str]:
    """One line per failing row (empty: the gate passes)."""
    return [describe_failure(r, threshold_pct) for r in failing_rows(analysis, threshold_pct, metrics)]
