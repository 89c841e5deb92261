"""One run: named against unnamed per target, VMA count and scenario, Holm across a target's rows.

Every number on a row comes from the same data: where the arms are paired by batch, both arms'
statistics, the change and its CI use the batches both arms have (a batch one arm lacks is left
out of the row, and the row's n says so)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from devbench.analysis.describe import describe_arm
from devbench.analysis.effect import effect
from devbench.analysis.holm import holm
from devbench.analysis.model import NOT_MEASURED, Analysis, ArmStats, Effect, Options, Row, TargetResult
from devbench.analysis.samples import ArmData, ScenarioData, group, is_interleaved, targets_in
from devbench.analysis.verdict import decide
from devbench.results.errors import REFUSED
from devbench.results.rows import record_vmas


class Pending(NamedTuple):
    """A row before Holm and its verdict."""

    target: str
    scenario: str
    arm: str | None
    pages: int | None
    base: ArmStats
    other: ArmStats
    effect: Effect | None
    vmas: int | None = None


def finish_rows(pending: list[Pending], options: Options, metric: str = "fork",
                forks_per_unit: int | None = None) -> tuple[Row, ...]:
    """Holm across the rows given (one family: in a sweep, every scenario at every count), then
    a verdict for each."""
    adjusted = holm([p.effect.p if p.effect else None for p in pending])
    rows, family = [], sum(p is not None for p in adjusted)
    for (target, scenario, arm, pages, base, other, eff, vmas), p_adj in zip(pending, adjusted, strict=False):
        n = min(base.n, other.n)
        per = forks_per_unit or (int(round(n / max(min(base.batches, other.batches), 1))) if n else None)
        rows.append(Row(target, scenario, arm, pages, base, other, eff, p_adj,
                        decide(eff, p_adj, n, options, family, per), metric, vmas))
    return tuple(rows)


def common_batches(base: ArmData, other: ArmData) -> tuple[int, ...]:
    return tuple(sorted(set(base.batch_numbers) & set(other.batch_numbers)))


def pair_row(target: str, scenario: str, arm: str | None, pages: int | None, base: ArmData, other: ArmData,
             paired: bool, options: Options, alternating: bool = True, unit: str = "batch",
             vmas: int | None = None) -> Pending:
    eff = effect(other, base, paired, options, alternating, unit)
    common = common_batches(base, other)
    if eff is not None and eff.design == "paired" and common:
        base, other = base.only(common), other.only(common)
    return Pending(target, scenario, arm, pages, describe_arm(base, options), describe_arm(other, options), eff, vmas)


def _unit(data: dict[str, Any]) -> str:
    return "batch" if is_interleaved(data) else "process"


def target_rows(scenarios: list[ScenarioData], name: str, data: dict[str, Any], options: Options,
                metric: str) -> tuple[Row, ...]:
    from devbench.analysis.kernels import arch_label, kernel_label

    pending = [pair_row(name, sd.scenario, None, sd.pages, sd.arms["unnamed"], sd.arms["named"], True, options,
                        sd.alternating, _unit(data), sd.vmas)
               for sd in scenarios if sd.target == name]
    kernel, arch = kernel_label(data, name), arch_label(data, name)  # what every row says it is about
    return tuple(replace(with_refusal(r, data.get("errors") or []), kernel=kernel, arch=arch)
                 for r in finish_rows(pending, options, metric))


def with_refusal(row: Row, errors: list[dict[str, Any]]) -> Row:
    """A row the plan refused an arm of says why ("refused: no CONFIG_ANON_VMA_NAME"), not
    only "not measured" (the kind stays: nothing was measured)."""
    if row.verdict.kind != NOT_MEASURED:
        return row
    why = [REFUSED[e["kind"]] for e in errors if isinstance(e, dict) and e.get("kind") in REFUSED
           and (e.get("target"), e.get("scenario")) == (row.target, row.scenario)
           and record_vmas(e, row.vmas) == row.vmas]  # a refusal without a count is of every count
    return replace(row, verdict=replace(row.verdict, label=f"refused: {why[0]}")) if why else row


def has_metric(scenarios: list[ScenarioData]) -> bool:
    return any(np.size(a.forks) for sd in scenarios for a in sd.arms.values())


def analyze(data: dict[str, Any], options: Options = Options()) -> Analysis:
    """Every target and scenario of a results.json dict: unnamed is the base, named the other.
    Paired by batch where each batch's arms ran side by side (interleaved, or separate processes
    in alternating order); a separate run that measured one arm after the other gets no verdict.
    exit_rows: the same for the child's exit (exit_ns), where the results have it. kernels: a
    target's kernels compared in the run, kernel B against kernel A (devbench.analysis.kernels)."""
    forks, exits = group(data, "fork"), group(data, "exit")
    with_exit = has_metric(exits)
    from devbench.analysis.kernels import kernel_pairs

    targets = [TargetResult(name, target_rows(forks, name, data, options, "fork"),
                            target_rows(exits, name, data, options, "exit") if with_exit else ())
               for name in targets_in(data)]
    return Analysis(options, tuple(targets), kernel_pairs(data, options))
