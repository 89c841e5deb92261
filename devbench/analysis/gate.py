"""The CI gate (--fail-on-regression PCT): one rule for `run`, `report` and `compare` (pure).

A row fails when its change is shown to lie above PCT: the one-sided p of "the change is at most
PCT" (the t test behind the row's own CI, on the log scale), Holm-adjusted over every row the
gate looks at, is below (1 - confidence) / 2. A single row fails exactly when its 95% CI's lower
bound lies above PCT; several rows at PCT together fail no more often than one (2.5%), where
requiring each CI above PCT after a Holm adjustment against zero let three rows fail 6.5%.
A row without a CI (no verdict: too few batches, one run a side; an arm not measured) is one
the gate cannot decide: it is listed as undecided, never passed silently; no row at all (nothing
was analysed, or two runs with nothing in common) is a gate that tested nothing, undecided too.
A run that compared a target's kernels gates its kernels rows too (kernel B against kernel A).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from devbench.analysis.holm import holm
from devbench.analysis.model import Analysis, Comparison, Options, Row
from devbench.analysis.stats import LogInterval, above_p
from devbench.results.rows import swept, with_vmas


@dataclass(frozen=True)
class GateResult:
    threshold_pct: float
    failing: tuple[Row, ...]      # shown to lie above the threshold
    undecided: tuple[Row, ...]    # no CI: the gate tested nothing there
    sweep: bool = False           # the rows are of several VMA counts: each is named with its count
    gated: int = 0                # how many rows the gate looked at (0: it had nothing to test)

    @property
    def decided(self) -> bool:
        return self.gated > 0 and not self.undecided


def metrics_of(gate_exit: bool) -> tuple[str, ...]:
    """The metrics a gate looks at: the fork, and with --gate-exit the child's exit too."""
    return ("fork", "exit") if gate_exit else ("fork",)


def gate_p(row: Row, threshold_pct: float) -> float | None:
    """One-sided p of "the change is at most threshold_pct"; None without a CI."""
    e = row.effect
    if e is None or e.ci_low_pct is None or e.ci_high_pct is None or e.change_pct is None:
        return None
    if e.se_log is None or e.df is None:  # an effect made without its interval (tests): its CI decides
        return 0.0 if e.ci_low_pct > threshold_pct else 1.0
    interval = LogInterval(math.log1p(e.change_pct / 100.0), math.log1p(e.ci_low_pct / 100.0),
                           math.log1p(e.ci_high_pct / 100.0), e.p or 0.0, e.se_log, e.df, e.exact)
    return above_p(interval, math.log1p(threshold_pct / 100.0))


def gate_rows(rows: Iterable[Row], threshold_pct: float, options: Options = Options()) -> GateResult:
    """The rule above over these rows (one Holm family)."""
    rows = list(rows)
    adjusted = holm([gate_p(r, threshold_pct) for r in rows])
    level = (1.0 - options.confidence) / 2.0
    return GateResult(threshold_pct,
                      tuple(r for r, p in zip(rows, adjusted, strict=True) if p is not None and p < level),
                      tuple(r for r, p in zip(rows, adjusted, strict=True) if p is None),
                      swept(r.vmas for r in rows), len(rows))


def gated(source: Analysis | Comparison, metrics: Sequence[str] = ("fork",)) -> list[Row]:
    """The rows a gate looks at: the fork rows and, with "exit" (--gate-exit), the child's exit rows."""
    if isinstance(source, Analysis):  # with a run's kernels rows (kernel B against kernel A), if any
        forks, exits = source.rows() + source.kernel_rows(), source.exit_rows() + source.kernel_exit_rows()
    else:
        forks = [r for p in source.pairs for r in p.rows]
        exits = [r for p in source.pairs for r in p.exit_rows]
    return (forks if "fork" in metrics else []) + (exits if "exit" in metrics else [])


def run_gate(source: Analysis | Comparison, threshold_pct: float, metrics: Sequence[str] = ("fork",)) -> GateResult:
    return gate_rows(gated(source, metrics), threshold_pct, source.options)


def failing_rows(analysis: Analysis | Comparison, threshold_pct: float,
                 metrics: tuple[str, ...] = ("fork",)) -> list[Row]:
    return list(run_gate(analysis, threshold_pct, metrics).failing)


def row_place(row: Row) -> str:
    """What a gated row is about: its target, or a target's kernel B against its kernel A (a
    kernels row, or a comparison of runs on two kernels; one kernel is not named twice)."""
    if row.base_kernel is None or row.base_kernel == row.kernel:
        return row.target
    return f"{row.target}{f' ({row.arch})' if row.arch else ''}: kernel {row.kernel} against {row.base_kernel}"


def _name(row: Row, sweep: bool) -> str:
    what = ", ".join(x for x in (row.arm, None if row.metric == "fork" else row.metric) if x)
    return f"{row_place(row)} / {with_vmas(row.scenario, row.vmas, sweep)}{f' ({what})' if what else ''}"


def describe_failure(row: Row, threshold_pct: float, sweep: bool = False) -> str:
    """One line; sweep: the row is named with its VMA count."""
    e = row.effect
    assert e is not None and e.ci_low_pct is not None and e.ci_high_pct is not None
    return (f"{_name(row, sweep)}: regression {e.change_pct:+.2f}% (95% CI {e.ci_low_pct:+.2f}% to "
            f"{e.ci_high_pct:+.2f}%) is above {threshold_pct:g}%")


def describe_undecided(row: Row, sweep: bool = False) -> str:
    return f"{_name(row, sweep)}: {row.verdict.label}"


NOTHING_TO_TEST = "no row to test (no scenario was analysed, or the runs have none in common)"


def undecided_lines(result: GateResult) -> list[str]:
    """What the gate could not test, one line each: every row without a CI, or that there was no row."""
    if not result.gated:
        return [NOTHING_TO_TEST]
    return [describe_undecided(r, result.sweep) for r in result.undecided]


def gate(analysis: Analysis | Comparison, threshold_pct: float, metrics: tuple[str, ...] = ("fork",)) -> list[str]:
    """One line per failing row (empty: no row is shown above the threshold)."""
    result = run_gate(analysis, threshold_pct, metrics)
    return [describe_failure(r, threshold_pct, result.sweep) for r in result.failing]
