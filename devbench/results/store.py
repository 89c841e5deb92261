"""results.json: the versioned on-disk record of a run, rewritten atomically after every batch.

The format is defined once, by its JSON Schema (devbench/results/results-2.schema.json, checked
by devbench.results.schema; docs/results-format.md is an overview). Files of schema 1 are read too.
"""

from __future__ import annotations

import json
import platform
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devbench import __version__
from devbench.analysis.kernels import arch_label, kernel_label
from devbench.analysis.stats import describe, regression_pct
from devbench.results.outfiles import atomic_write
from devbench.results.rows import RowKey, record_vmas, row_key, run_vmas, vmas_field

if TYPE_CHECKING:
    from devbench.analysis import Analysis, Options

SCHEMA = "devbench/results/2"  # 2: samples carry exit_ns; 1 is still read (results_check)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_results(run_id: str, name: str, config: dict[str, Any], config_file: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run": {
            "id": run_id,
            "name": name,
            "started": now(),
            "ended": None,
            "status": "running",
            "config": config,
            "config_file": config_file,
            "devbench_version": __version__,
            "host": {"system": platform.system(), "machine": platform.machine(), "python": platform.python_version()},
        },
        "targets": [],
        "checks": [],
        "samples": [],
        "errors": [],
        "summary": [],
    }


def summarize(data: dict[str, Any], analysis: Analysis | None = None, statistics: bool = True) -> list[dict[str, Any]]:
    """Per target and scenario: both arms' statistics and the seed's REGRESSION % (pure); once
    the run has ended (and unless statistics is False), its CI, p-values and verdict from
    `analysis` (computed when not given)."""
    arms: dict[RowKey, dict[str, list[int]]] = defaultdict(lambda: {"unnamed": [], "named": []})
    exits: dict[RowKey, dict[str, list[int]]] = defaultdict(lambda: {"unnamed": [], "named": []})
    order: list[RowKey] = []
    default = run_vmas(data)
    for s in data.get("samples", []):
        key = row_key(s, default)
        if key not in arms:
            order.append(key)
        arms[key][s["arm"]].extend(s["fork_ns"])
        exits[key][s["arm"]].extend(s.get("exit_ns") or [])
    pages = {
        sc.get("name"): sc.get("pages")
        for sc in data.get("run", {}).get("config", {}).get("benchmark", {}).get("scenarios", []) or []
        if isinstance(sc, dict)
    }
    stats = _statistics(data, analysis) if statistics else {}
    labels = {t: (kernel_label(data, t), arch_label(data, t)) for t in dict.fromkeys(k.target for k in order)}
    rows = []
    for key in order:
        un, na = describe(arms[key]["unnamed"]), describe(arms[key]["named"])
        rows.append({
            "target": key.target,
            "kernel": labels[key.target][0],
            "arch": labels[key.target][1],
            **vmas_field(key.vmas),
            "scenario": key.scenario,
            "pages": pages.get(key.scenario),
            "unnamed": un,
            "named": na,
            "unnamed_mean_ms": un["mean_ms"],
            "named_mean_ms": na["mean_ms"],
            "regression_pct": regression_pct(un["mean_ms"], na["mean_ms"]),
            **stats.get(key, dict.fromkeys(STAT_FIELDS)),
            **({"exit": exit_summary(exits[key])} if any(exits[key].values()) else {}),
        })
    return rows


def exit_summary(exits: dict[str, list[int]]) -> dict[str, Any]:
    """The child's exit (release to waitpid return) per arm: means and their change, descriptive
    only (no CI or test yet: the verdict is the fork's)."""
    un, na = describe(exits["unnamed"]), describe(exits["named"])
    return {"unnamed_mean_ms": un["mean_ms"], "named_mean_ms": na["mean_ms"], "n": [un["n"], na["n"]],
            "change_pct": regression_pct(un["mean_ms"], na["mean_ms"])}


STAT_FIELDS = ("regression_ci_pct", "p", "p_holm", "p_welch", "p_mwu", "cliffs_delta", "design", "verdict")


def _statistics(data: dict[str, Any], analysis: Analysis | None) -> dict[RowKey, dict[str, Any]]:
    """CI, p-values and verdict per target and scenario, once the run has ended (the statistics
    stay off the host while a device, possibly this machine, is still forking)."""
    if (data.get("run") or {}).get("status") == "running":
        return {}
    if analysis is None:
        from devbench.analysis import analyze

        analysis = analyze(data)
    out = {}
    for row in analysis.rows():
        e = row.effect
        ci = None if e is None or e.ci_low_pct is None else [e.ci_low_pct, e.ci_high_pct]
        out[row.key] = {
            "regression_ci_pct": ci,
            "p": None if e is None else e.p,
            "p_holm": row.p_holm,
            "p_welch": None if e is None else e.p_welch,
            "p_mwu": None if e is None else e.p_mwu,
            "cliffs_delta": None if e is None else e.cliffs_delta,
            "design": None if e is None else f"{e.design} by {e.unit}",
            "verdict": row.verdict.label,
        }
    return out


def kernel_summary(data: dict[str, Any], analysis: Analysis | None = None,
                   statistics: bool = True) -> list[dict[str, Any]]:
    """Kernels compared in the run: one row per target, kernel pair, scenario and arm (kernel B
    against kernel A, the boot as the unit), once the run has ended; empty before (and without
    statistics)."""
    if not statistics or (data.get("run") or {}).get("status") == "running":
        return []
    if analysis is None:
        from devbench.analysis import analyze

        analysis = analyze(data)
    out = []
    for pair in analysis.kernels:
        for row, means in zip(pair.rows, pair.boot_means, strict=True):
            e = row.effect
            out.append({
                "target": pair.target, "arch": pair.arch, "kernel": pair.kernel_b, "against": pair.kernel_a,
                **vmas_field(row.vmas), "scenario": row.scenario, "arm": row.arm, "pages": row.pages,
                "boots": [list(pair.boots_a), list(pair.boots_b)],
                "boot_means_ms": [list(means.a), list(means.b)],
                "a_mean_ms": row.base.mean if row.base else None, "b_mean_ms": row.other.mean if row.other else None,
                "change_pct": None if e is None else e.change_pct,
                "ci_pct": None if e is None or e.ci_low_pct is None else [e.ci_low_pct, e.ci_high_pct],
                "p": None if e is None else e.p, "p_holm": row.p_holm,
                "design": None if e is None else f"{e.design} by {e.unit}", "verdict": row.verdict.label,
            })
    return out


class ResultsStore:
    """Holds one run's results and writes them after every change that matters.

    Thread-safe, so one worker per target can share it. Writes go to a temporary file
    that replaces results.json, so the file on disk is always complete and valid.
    """

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data
        self._lock = threading.RLock()
        self.analysis: Analysis | None = None  # the statistics of the ended run (finish)
        self.on_warning: Callable[[str, str], None] | None = None  # told of each new warning (target, message)
        default = run_vmas(data)
        self._samples = {(*row_key(r, default), r["arm"], r["batch"]): i for i, r in enumerate(data["samples"])}
        self.save()

    def target(self, name: str) -> dict[str, Any]:
        with self._lock:
            for t in self.data["targets"]:
                if t["name"] == name:
                    return t
            rec: dict[str, Any] = {"name": name, "transport": None, "status": "pending", "facts": None, "warnings": [],
                   "payload": None, "device_changes": []}
            self.data["targets"].append(rec)
            return rec

    def update_target(self, name: str, **fields: Any) -> None:
        with self._lock:
            self.target(name).update(fields)
            self.save()

    def warn(self, name: str, message: str) -> None:
        with self._lock:
            warnings = self.target(name)["warnings"]
            new = message not in warnings
            if new:
                warnings.append(message)
            self.save()
        if new and self.on_warning is not None:
            self.on_warning(name, message)

    def add_check(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.data["checks"].append(record)
            self.save()

    def add_sample(self, target: str, scenario: str, arm: str, batch: int, warmup: int, fork_ns: list[int],
                   exit_ns: list[int] | None = None, vmas: int | None = None, boot: int | None = None) -> bool:
        """Record one batch. One record per (target, VMA count, scenario, arm, batch): a batch
        already recorded in full (a resumed run measuring it again) is kept and the new one
        dropped; a partial one is replaced by a fuller one. True when recorded. boot: the boot
        of a kernel compared in the run (devbench.run.boots) that measured it."""
        with self._lock:
            key = (*RowKey(target, record_vmas({"vmas": vmas}, run_vmas(self.data)), scenario), arm, batch)
            rec = {
                "target": target,
                **vmas_field(vmas),
                "scenario": scenario,
                "arm": arm,
                "batch": batch,
                "warmup": warmup,
                "fork_ns": list(fork_ns),
            }
            if exit_ns is not None:
                rec["exit_ns"] = list(exit_ns)
            if boot is not None:
                rec["boot"] = boot
            if key in self._samples:
                i = self._samples[key]
                if len(self.data["samples"][i]["fork_ns"]) >= len(fork_ns):
                    return False
                self.data["samples"][i] = rec
            else:
                self._samples[key] = len(self.data["samples"])
                self.data["samples"].append(rec)
            self.save()
            return True

    def batches_done(self, target: str, scenario: str, arm: str, vmas: int | None = None) -> dict[int, int]:
        """{batch: forks recorded} of one target, scenario and arm (at VMA count `vmas`; None:
        the run's one count)."""
        with self._lock:
            want = (target, record_vmas({"vmas": vmas}, run_vmas(self.data)), scenario, arm)
            return {b: len(self.data["samples"][i]["fork_ns"]) for (t, v, s, a, b), i in self._samples.items()
                    if (t, v, s, a) == want}

    def add_error(
        self, target: str | None, scenario: str | None, arm: str | None, kind: str, message: str, **data: Any
    ) -> None:
        with self._lock:
            self.data["errors"].append({"target": target, "scenario": scenario, "arm": arm, "kind": kind,
                                        "message": message, "time": now(), **data})
            self.save()

    def add_profile(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.data.setdefault("profiles", []).append(record)
            self.save()

    def finish(self, status: str) -> None:
        """The run has ended: its ending is written at once; then its statistics are computed
        once, kept in `analysis` for the reports, and written into the summary (a second
        interrupt while they are computed loses only them)."""
        from devbench.analysis import analyze
        from devbench.run.signals import signals_deferred

        with self._lock:
            self.data["run"]["status"] = status
            self.data["run"]["ended"] = now()
            with signals_deferred():
                self.save(statistics=False)
            self.analysis = analyze(self.data)
            self.save()

    def save(self, statistics: bool = True) -> None:
        with self._lock:
            self.data["summary"] = summarize(self.data, self.analysis, statistics)
            self.data["kernel_summary"] = kernel_summary(self.data, self.analysis, statistics)
            # the C encoder: indenting is pure Python, 5x slower; a new temporary file, never a planted link
            atomic_write(self.path, json.dumps(self.data, separators=(",", ":")) + "\n", fsync=True)


def load(path: str | Path) -> dict[str, Any]:
    """Read results.json (or a run folder holding one) and check its shape (devbench.results.schema);
    its summary is made again from the samples, without the statistics (load_analyzed has them)."""
    from devbench.results.schema import read_results

    data = read_results(path)
    data["summary"] = summarize(data, statistics=False)
    data["kernel_summary"] = []
    return data


def load_analyzed(path: str | Path, options: Options | None = None) -> tuple[dict[str, Any], Analysis]:
    """load(), and the run's statistics (computed once: the summary is made from them)."""
    from devbench.analysis import Options, analyze
    from devbench.results.schema import read_results

    data = read_results(path)
    analysis = analyze(data, options or Options())
    data["summary"] = summarize(data, analysis)
    data["kernel_summary"] = kernel_summary(data, analysis)
    return data, analysis
