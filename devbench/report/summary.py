"""The JSON summary for CI: every row's numbers and verdict, no samples (pure)."""

from __future__ import annotations

from typing import Any

from devbench.analysis import Analysis, Comparison, Row
from devbench.analysis.gate import run_gate
from devbench.analysis.sweep import series
from devbench.report.differential import target_differential
from devbench.report.headline import headline
from devbench.report.kernels import pair_json
from devbench.report.letter import build, letter_json
from devbench.report.sweep import sweep_json
from devbench.report.table import change_of
from devbench.results.rows import vmas_field
from devbench.results.strict import breaks

SCHEMA = "devbench/summary/1"


def row_json(row: Row, names: tuple[str, str]) -> dict[str, Any]:
    e = row.effect
    base, other = (row.base.to_json() if row.base else None), (row.other.to_json() if row.other else None)
    out: dict[str, Any] = {"target": row.target, "kernel": row.kernel, "arch": row.arch}
    if row.base_kernel is not None:
        out["against"] = row.base_kernel  # a kernels row: kernel B (kernel) against kernel A (against)
    out.update(vmas_field(row.vmas))
    out["scenario"] = row.scenario
    if row.arm:
        out["arm"] = row.arm
    out.update({
        "pages": row.pages,
        names[0]: base,
        names[1]: other,
        "change_pct": change_of(row),  # the estimate its CI is built on
        "ci_pct": None if e is None or e.ci_low_pct is None else [e.ci_low_pct, e.ci_high_pct],
        "p_holm": row.p_holm,
        "verdict": row.verdict.label,
        "more_forks": row.verdict.more_forks,
        "effect": e.to_json() if e else None,
    })
    return out


def target_warnings(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A target's recorded warnings, each with the requirements it breaks (devbench.results.strict)."""
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == name), {})
    return [{"message": w, "breaks": breaks(w)} for w in rec.get("warnings") or [] if isinstance(w, str)]


def target_clock(data: dict[str, Any], name: str) -> Any:
    """The target's clock (a QEMU guest's "icount" or "real"), where its transport records one."""
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == name), {})
    info = rec.get("transport_info")
    return info.get("clock") if isinstance(info, dict) else None


def gate_row(r: Row) -> dict[str, Any]:
    """A row the gate names, as the JSON says it: its target (and kernel), count, scenario and metric."""
    return {"target": r.target, "kernel": r.kernel, "arch": r.arch, **vmas_field(r.vmas), "scenario": r.scenario,
            **({"arm": r.arm, "against": r.base_kernel} if r.base_kernel is not None else {}), "metric": r.metric}


def run_summary(data: dict[str, Any], analysis: Analysis, fail_on_regression: float | None = None,
                metrics: tuple[str, ...] = ("fork",)) -> dict[str, Any]:
    """Per target: the headline, warnings and every row (each with its VMA count); in a sweep
    also `sweep`: the added time per fork against the count and the finding at 4096 VMAs. With
    a gate (fail_on_regression), `gate`: what it tested (metrics: fork, and exit with --gate-exit)."""
    run = data.get("run") or {}
    margin = analysis.options.margin_pct
    found = series(analysis.rows())
    targets = []
    for t in analysis.targets:
        out_t: dict[str, Any] = {"name": t.name,
                                 "headline": headline(f"On {t.name}", "fork() with named VMAs is", t.rows, margin),
                                 "warnings": target_warnings(data, t.name),
                                 "rows": [row_json(r, ("unnamed", "named")) for r in t.rows]}
        sweep = sweep_json(found, t.name, margin, target_clock(data, t.name))
        if sweep is not None:
            out_t["sweep"] = sweep
        diff = target_differential(data, t.name)  # where the named arm's extra profile samples are
        if diff is not None:
            out_t["differential_profile"] = diff.to_json()
        targets.append(out_t)
    out = {
        "schema": SCHEMA,
        "run": {k: run.get(k) for k in ("id", "name", "status", "started", "ended")},
        "options": analysis.options.to_json(),
        "targets": targets,
        "errors": data.get("errors", []),
        # a target's kernels compared in the run: kernel B against kernel A, the boot as the unit
        "kernels": [pair_json(p, row_json) for p in analysis.kernels],
    }
    letter = letter_json(build(data, analysis))
    if letter is not None:  # the seed's two tables beside this run's rows (devbench.report.letter)
        out["seed_letter"] = letter
    if fail_on_regression is not None:
        result = run_gate(analysis, fail_on_regression, metrics)
        out["gate"] = {
            "fail_on_regression_pct": fail_on_regression,
            "metrics": list(metrics),
            "rows_tested": result.gated - len(result.undecided),
            "failing": [gate_row(r) for r in result.failing],
            "undecided": [{**gate_row(r), "why": r.verdict.label} for r in result.undecided],
        }
    return out


def compare_summary(cmp: Comparison, data: tuple[dict[str, Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """data: the first run of each side; each pairing then carries both sides' differential profiles."""
    from devbench.report.differential import compare_profiles

    return {
        "schema": SCHEMA,
        "compare": {"a": cmp.run_a, "b": cmp.run_b},
        "runs": {"a": list(cmp.runs_a), "b": list(cmp.runs_b)},  # every run of each side, in order
        "options": cmp.options.to_json(),
        "pairs": [{"target_a": p.target_a, "target_b": p.target_b, "kernel_a": p.kernel_a, "kernel_b": p.kernel_b,
                   "arch": p.arch, "rows": [row_json(r, ("a", "b")) for r in p.rows],
                   "run_means": [m.to_json() for m in p.run_means],
                   **({"differential_profiles": [sp.to_json() for sp in compare_profiles(p, *data)]} if data else {})}
                  for p in cmp.pairs],
        "notes": list(cmp.notes),
        # compare --force: what the sides' workloads differ in (empty: the same workload)
        "mismatches": [{**m.to_json(), "message": m.text()} for m in cmp.mismatches],
    }
