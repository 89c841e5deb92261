"""The text formats of `devbench report` and `devbench compare`: one function per command, the
format picks the exporter (pure: returns the text)."""

from __future__ import annotations

import json
from typing import Any

from devbench.analysis import Analysis, Comparison
from devbench.report.csvout import render_csv, target_warnings
from devbench.report.summary import compare_summary, run_summary
from devbench.report.table import mismatch_lines, render_compare_text, render_text

TEXT_FORMATS = ("text", "markdown", "json", "csv")


def run_output(data: dict[str, Any], analysis: Analysis, fmt: str, fail_on_regression: float | None = None,
               gate_metrics: tuple[str, ...] = ("fork",)) -> str:
    """gate_metrics: what --fail-on-regression looks at (the JSON says the gate's result)."""
    if fmt == "json":
        return json.dumps(run_summary(data, analysis, fail_on_regression, gate_metrics), indent=1) + "\n"
    if fmt == "csv":
        return render_csv(analysis.rows(), warnings=target_warnings(data), kernel_rows=analysis.kernel_rows(),
                          margin_pct=analysis.options.margin_pct)
    return render_text(data, markdown=fmt == "markdown", analysis=analysis)


def compare_output(cmp: Comparison, fmt: str, data: tuple[dict[str, Any], dict[str, Any]] | None = None) -> str:
    """data: the first run of each side, for each side's differential profile (text, markdown, JSON)."""
    if fmt == "json":
        return json.dumps(compare_summary(cmp, data), indent=1) + "\n"
    if fmt == "csv":
        warned = " | ".join(mismatch_lines(cmp))  # --force: on every line, as a run's warnings are
        return render_csv((r for p in cmp.pairs for r in p.rows), ("a", "b"),
                          {r.target: warned for p in cmp.pairs for r in p.rows} if warned else None,
                          margin_pct=cmp.options.margin_pct)
    return render_compare_text(cmp, markdown=fmt == "markdown", data=data)
