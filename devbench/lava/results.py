"""LAVA's results (and, where available, the job log) -> a devbench results.json dict.

With the log, every fork time comes back exactly: the test definition printed the payload's
JSON Lines into it (DEVBENCH-LINE), and they become samples, checks and errors by the rules of
a devbench run. The lava-test-case measurements are then checked against those samples.
Without the log only the per-case means exist: they go into the summary, and a warning says
that the samples are missing (the report's statistics need samples).
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devbench.analysis.stats import regression_pct
from devbench.config import Config, load_config
from devbench.device.probe import parse_facts
from devbench.lava.cases import LavaCase, read_cases
from devbench.lava.logparse import LavaLog, read_log
from devbench.lava.markers import RESTORE_CASE, case_prefix, split_case
from devbench.lava.records import invocation_records
from devbench.lava.testdef import CONFIG_SECTIONS
from devbench.results.rows import is_sweep, record_vmas, run_vmas, vmas_field
from devbench.results.seal import seal_run
from devbench.results.store import STAT_FIELDS, new_results, summarize

MEAN_TOLERANCE_MS = 2e-6  # the device prints the mean with 6 decimals (1 ns)
SAMPLES_MISSING = (
    "samples missing: the LAVA results hold only each scenario/arm's mean (give the job log to restore every fork time)"
)


def lava_results(results_yaml_path: str | Path, log_path: str | Path | None = None, *,
                 config_path: str | Path | None = None, target: str | None = None) -> dict[str, Any]:
    """CLI glue: LAVA results YAML (+ job log) -> results.json dict. config_path (optional) gives
    scenario names and pages when there is no log; target overrides the target name."""
    cases = read_cases(results_yaml_path)
    log = read_log(log_path) if log_path is not None else None
    cfg = load_config(config_path) if config_path is not None else None
    return build_results(cases, log, cfg, target=target, sources={"results": str(results_yaml_path),
                                                                    "log": None if log_path is None else str(log_path)})


def build_results(cases: list[LavaCase], log: LavaLog | None, cfg: Config | None = None, *,
                  target: str | None = None, sources: dict[str, Any] | None = None) -> dict[str, Any]:
    record = log.run if log is not None else None
    job = next((c.job for c in cases if c.job), None)
    name = target or (record or {}).get("target") or "lava"
    # What the device printed (the run line) is data: the run's config is the user's (--config),
    # sealed so that restore and --resume may obey it; without one, the log's config is kept for
    # the report only, unsealed, and never obeyed (devbench.results.seal)
    reported = (record or {}).get("config")
    user = {k: cfg.raw[k] for k in CONFIG_SECTIONS if k in cfg.raw} if cfg else None
    config = user if user is not None else (reported if isinstance(reported, dict) else {})
    run_name = (record or {}).get("run_name") or (cfg.run.name if cfg else f"lava-{job or 'job'}")
    config_file = cfg.file if cfg else str((record or {}).get("config_file") or "")
    data = new_results(f"lava-{job}" if job else "lava", run_name, config, config_file)
    if user is not None:
        seal_run(data["run"])
    logged = sorted(c.logged for c in cases if c.logged)
    data["run"]["started"] = (
        _iso(log.run_dt if log and log.run_dt else (logged[0] if logged else None)) or data["run"]["started"]
    )
    data["run"]["ended"] = (
        _iso(log.last_dt if log and log.last_dt else (logged[-1] if logged else None)) or data["run"]["ended"]
    )
    data["run"]["lava"] = {"job": job, "device_type": (record or {}).get("device_type"), **(sources or {})}
    tgt: dict[str, Any] = {
        "name": name,
        "transport": "lava",
        "status": None,
        "facts": None,
        "warnings": [],
        "payload": None,
        "device": None,
        "device_changes": [],
        "conditions": [],
        "lava": {
            "job": job,
            "device_type": (record or {}).get("device_type"),
            "suite": next((c.suite for c in cases if c.is_devbench), None),
        },
    }
    data["targets"].append(tgt)
    warnings: list[str] = list((record or {}).get("warnings") or [])
    if user is not None and isinstance(reported, dict) and reported != user:
        data["run"]["reported_config"] = reported
        warnings.append("the job log's run line carries another config than --config (kept as run.reported_config, "
                        "data only: the run's config is the one given)")
    data["run"]["lava"]["config_source"] = (
        "--config (sealed: restore and --resume may obey it)"
        if user is not None
        else "the job log's run line (data only: never obeyed by restore or --resume)"
    )
    if log is not None:
        warnings += log.warnings
    if record is not None and log is not None:
        _from_log(data, tgt, record, log, warnings)
        warnings += _check_measurements(data, cases, name, record)
    else:
        if log is not None:
            warnings.append("the LAVA log holds no devbench output (DEVBENCH-RUN): did the test definition run?")
        _from_cases(data, cases, name, cfg)
        if any(c.is_devbench and split_case(c.name) for c in cases):
            warnings.append(SAMPLES_MISSING)
    data["errors"] += _lava_errors(cases, log, name)
    for w in warnings:
        if w not in tgt["warnings"]:
            tgt["warnings"].append(w)
    failed = any(e.get("target") in (name, None) for e in data["errors"])
    tgt["status"] = "failed" if failed else "ok"
    data["run"]["status"] = "failed" if failed else "complete"
    means_only = data["summary"]
    data["summary"] = summarize(data) if data["samples"] else means_only
    return data


def _from_log(
    data: dict[str, Any], tgt: dict[str, Any], record: dict[str, Any], log: LavaLog, warnings: list[str]
) -> None:
    name = tgt["name"]
    if log.probe:
        tgt["facts"] = parse_facts("\n".join(log.probe)).to_json()
    payload = record.get("payload") or {}
    tgt["payload"] = {"abi": (tgt["facts"] or {}).get("abi"), "compiler": None, "sha256": payload.get("sha256"),
                      "remote": payload.get("path"), "url": payload.get("url")}
    restores = {r.get("setting"): r for r in log.restores}
    for change in log.changes:
        back = restores.get(change.get("setting"), {})
        tgt["device_changes"].append({
            "setting": change.get("setting"), "path": change.get("path"), "before": change.get("before"),
            "after": change.get("after"), "why": change.get("why"), "verified": change.get("verified"),
            "restored": back.get("restored"), "restored_value": back.get("restored_value"),
        })
        if back.get("restored") is False:
            data["errors"].append(
                {
                    "target": name,
                    "scenario": None,
                    "arm": None,
                    "kind": "restore-failed",
                    "time": None,
                    "message": f"{change.get('setting')} not restored to {change.get('before')} "
                    f"(reads {back.get('restored_value')})",
                }
            )
        elif not back:
            warnings.append(f"{change.get('setting')} was changed and the log does not show it restored")
    for inv in record.get("invocations") or []:
        run = log.invocations.get(int(inv.get("index", -1)))
        recs = invocation_records(name, inv, run, _iso(log.last_dt), is_sweep(data))
        data["samples"] += recs.samples
        data["checks"] += recs.checks
        data["errors"] += [{**e, "time": _iso(e.get("time"))} for e in recs.errors]
        warnings += recs.warnings


def _cases_of(cfg: Config | None) -> dict[str, tuple[str, int | None]]:
    """Test case name (before .<arm>) -> (scenario, VMA count) as the config's plan names them."""
    if cfg is None:
        return {}
    b = cfg.benchmark
    return {case_prefix(sc.name, v, b.sweep): (sc.name, v) for v in b.vma_counts for sc in b.scenarios}


def _from_cases(data: dict[str, Any], cases: list[LavaCase], target: str, cfg: Config | None) -> None:
    """Means only: one summary row per scenario (at each VMA count), the errors the case results imply."""
    names = _cases_of(cfg)
    pages = {sc.name: sc.pages for sc in cfg.benchmark.scenarios} if cfg else {}
    rows: dict[tuple[str, int | None], dict[str, Any]] = {}
    for c in cases:
        parts = split_case(c.name) if c.is_devbench else None
        if parts is None:
            continue
        (scenario, vmas), arm = names.get(parts[0], (parts[0], None)), parts[1]
        _case_error = functools.partial(case_error, vmas=vmas)
        row = rows.setdefault((scenario, vmas), {
            "target": target, **vmas_field(vmas), "scenario": scenario, "pages": pages.get(scenario),
            "unnamed": _arm_mean(None), "named": _arm_mean(None), "unnamed_mean_ms": None, "named_mean_ms": None,
            "regression_pct": None, **dict.fromkeys(STAT_FIELDS), "source": "lava measurements (no samples)"})
        row[arm] = _arm_mean(c.measurement)
        row[f"{arm}_mean_ms"] = c.measurement
        row["regression_pct"] = regression_pct(row["unnamed_mean_ms"], row["named_mean_ms"])
        if c.result == "skip" and arm == "named":
            data["errors"].append(
                _case_error(
                    target,
                    scenario,
                    arm,
                    "kernel-lacks-anon-vma-name",
                    f"LAVA test case {c.name}: skipped (the kernel lacks CONFIG_ANON_VMA_NAME)",
                )
            )
        elif c.result != "pass":
            data["errors"].append(
                _case_error(
                    target,
                    scenario,
                    arm,
                    "payload-failed",
                    f"LAVA test case {c.name}: {c.result} (the job log has the payload's output)",
                )
            )
    data["summary"] = list(rows.values())


def _check_measurements(data: dict[str, Any], cases: list[LavaCase], target: str, record: dict[str, Any]) -> list[str]:
    """Each lava-test-case measurement against the mean of the samples it was computed from."""
    default = run_vmas(data)
    names = {str(i.get("case")): (str(i.get("scenario")), record_vmas(i, default))
             for i in record.get("invocations") or [] if isinstance(i, dict)}
    forks: dict[tuple[str, int | None, str, str], list[int]] = {}
    for s in data["samples"]:
        v = record_vmas(s, default)
        forks.setdefault((s["scenario"], v, s["arm"], "fork"), []).extend(s["fork_ns"])
        forks.setdefault((s["scenario"], v, s["arm"], "exit"), []).extend(s.get("exit_ns") or [])
    out = []
    for c in cases:
        name, metric = (c.name[:-5], "exit") if c.name.endswith(".exit") else (c.name, "fork")
        parts = split_case(name) if c.is_devbench else None
        if parts is None or c.measurement is None:
            continue
        key = (*names.get(parts[0], (parts[0], default)), parts[1], metric)
        ns = forks.get(key)
        if not ns:
            out.append(f"LAVA test case {c.name} has a measurement but the log has no samples for it")
            continue
        mean = math.fsum(ns) / len(ns) / 1e6
        if abs(mean - c.measurement) > MEAN_TOLERANCE_MS + 1e-9 * abs(mean):
            out.append(
                f"LAVA test case {c.name}: measurement {c.measurement} ms differs from the samples' mean {mean:.6f} ms"
            )
    return out


def _lava_errors(cases: list[LavaCase], log: LavaLog | None, target: str) -> list[dict[str, Any]]:
    """LAVA's own failures: the job (suite lava) and devbench's restore check."""
    out = []
    for c in cases:
        if c.suite == "lava" and c.result == "fail":
            detail = c.metadata.get("error_msg") or c.metadata.get("error_type") or "failed"
            out.append(case_error(target, None, None, "run-failed", f"LAVA {c.name}: {detail}"))
        elif c.is_devbench and c.name == RESTORE_CASE and c.result == "fail" and (log is None or log.run is None):
            out.append(case_error(target, None, None, "restore-failed", "LAVA test case devbench-restore failed"))
    return out


def _arm_mean(mean: float | None) -> dict[str, Any]:
    return {"n": None, "mean_ms": mean, "median_ms": None, "stdev_ms": None, "min_ms": None, "max_ms": None}


def case_error(target: str, scenario: str | None, arm: str | None, kind: str, message: str,
               vmas: int | None = None) -> dict[str, Any]:
    return {"target": target, **vmas_field(vmas), "scenario": scenario, "arm": arm, "kind": kind, "message": message,
            "time": None}


def _iso(value: str | None) -> str | None:
    """LAVA's times (log dt: naive UTC; results: "2024-03-01 10:12:01.123456+00:00") as results.json's."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")
