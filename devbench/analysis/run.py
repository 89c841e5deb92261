"""One run: named against unnamed per target and scenario, Holm across a target's scenarios."""

from __future__ import annotations

from typing import Any

from devbench.analysis.describe import describe_arm
from devbench.analysis.effect import effect
from devbench.analysis.holm import holm
from devbench.analysis.model import Analysis, ArmStats, Effect, Options, Row, TargetResult
from devbench.analysis.samples import ArmData, group, is_interleaved, targets_in
from devbench.analysis.verdict import decide

Pending = tuple[str, str, str | None, int | None, ArmStats, ArmStats, Effect | None]


def finish_rows(pending: list[Pending], options: Options) -> tuple[Row, ...]:
    """Holm across the rows given (one family), then a verdict for each."""
    adjusted = holm([e.p if e else None for *_, e in pending])
    rows, family = [], sum(p is not None for p in adjusted)
    for (target, scenario, arm, pages, base, other, eff), p_adj in zip(pending, adjusted):
        n = min(base.n, other.n)
        rows.append(Row(target, scenario, arm, pages, base, other, eff, p_adj, decide(eff, p_adj, n, options, family)))
    return tuple(rows)


def pair_row(target: str, scenario: str, arm: str | None, pages: int | None, base: ArmData, other: ArmData,
             paired: bool, options: Options) -> Pending:
    return (target, scenario, arm, pages, describe_arm(base, options), describe_arm(other, options),
            effect(other, base, paired, options))


def analyze(data: dict[str, Any], options: Options = Options()) -> Analysis:
    """Every target and scenario of a results.json dict: unnamed is the base, named the other."""
    paired = is_interleaved(data)
    scenarios = group(data)
    targets = []
    for name in targets_in(data):
        pending = [pair_row(name, sd.scenario, None, sd.pages, sd.arms["unnamed"], sd.arms["named"], paired, options)
                   for sd in scenarios if sd.target == name]
        targets.append(TargetResult(name, finish_rows(pending, options)))
    return Analysis(options, tuple(targets))
