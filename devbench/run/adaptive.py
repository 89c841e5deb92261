"""Adaptive sampling (`benchmark.forks: auto`): rounds of batches until each scenario's
regression CI is as narrow as asked, or the cap is reached (pure decisions; the runner runs
the rounds). A round adds `batches` batches of `forks / batches` forks (batch numbers go on),
so the CI, whose width comes from the batch-to-batch spread, shrinks with each round; the
stop rule looks at the CI's width only, never at the change, and keeps its coverage
(tests/calibrate.py: the adaptive design).

The precision is the half-width of the 95% CI of the regression (named vs unnamed), in
percentage points. Where the named arm cannot run (a kernel without the feature), the
unnamed arm's mean is what can be made precise: its 95% CI half-width relative to the mean
(from the batch means, t-based) stands in, and the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from devbench.analysis.lazy import stats as sps
from devbench.analysis.model import Options
from devbench.analysis.run import analyze
from devbench.results.rows import row_key, run_vmas, with_vmas

PRECISION_OPTIONS = Options(fork_tests=False)  # only the CI counts here: no descriptive fork-level tests


@dataclass(frozen=True)
class Precision:
    scenario: str
    half_width_pct: float | None  # None: not enough data yet
    measure: str  # "regression CI" or "unnamed mean CI (named arm not measured)"
    forks: int  # per arm so far

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def round_size(data: dict[str, Any]) -> int:
    """Batches per round: the config's benchmark.batches (a round is `forks` in `batches`)."""
    bench = ((data.get("run") or {}).get("config") or {}).get("benchmark") or {}
    try:
        return max(int(bench.get("batches") or 1), 1)
    except (TypeError, ValueError):
        return 1


def before_last_round(samples: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The samples of every round but the latest (batch numbers go on from round to round)."""
    last = max((int(s.get("batch", 0)) for s in samples), default=-1)
    cut = (last // size) * size
    return [s for s in samples if int(s.get("batch", 0)) < cut]


def precisions(data: dict[str, Any], target: str, sweep: bool = False) -> dict[str, Precision]:
    """Each scenario's precision so far on one target (from that target's samples alone: the
    other targets of a farm are still measuring and need not be analysed).

    The precision is that of the rounds before the latest one, so the round that ends a
    scenario is always measured after the decision to stop: a stop decided on a CI that came
    out narrow by chance (a low batch-to-batch spread) would otherwise keep that CI, and the
    calibration measured 7-8% false positives and 92% coverage for it (tests/calibrate.py).
    A scenario therefore takes at least two rounds. Keyed by the scenario's name (in a sweep:
    "NAME @ N VMAs", each count its own rounds, devbench.results.rows.with_vmas)."""
    size = round_size(data)
    out: dict[str, Precision] = {}
    default = run_vmas(data)
    mine = [s for s in data.get("samples", []) if s["target"] == target]
    for key in dict.fromkeys(row_key(s, default) for s in mine):
        scenario = with_vmas(key.scenario, key.vmas, sweep)
        rows = [s for s in mine if row_key(s, default) == key]
        now = _precision({**data, "samples": rows}, target, scenario)
        earlier = before_last_round(rows, size)
        decided = _precision({**data, "samples": earlier}, target, scenario) if earlier else None
        out[scenario] = Precision(scenario, decided.half_width_pct if decided else None,
                                  (now.measure + ", rounds before the last") if decided else now.measure, now.forks)
    return out


def _precision(data: dict[str, Any], target: str, scenario: str) -> Precision:
    """The precision of the one scenario (at one count) whose samples `data` holds."""
    mine = {**data, "targets": [t for t in data.get("targets", []) if t.get("name") == target]}
    result = analyze(mine, PRECISION_OPTIONS).target(target)
    row = next(iter(result.rows if result else ()))
    e = row.effect
    base_n = row.base.n if row.base is not None else 0
    if (
        row.other is not None
        and row.other.n
        and e is not None
        and e.ci_low_pct is not None
        and e.ci_high_pct is not None
    ):
        return Precision(scenario, (e.ci_high_pct - e.ci_low_pct) / 2, "regression CI", base_n)
    return Precision(
        scenario, _mean_half_width(data, target, scenario), "unnamed mean CI (named arm not measured)", base_n
    )


def _mean_half_width(data: dict[str, Any], target: str, scenario: str) -> float | None:
    means = [float(np.mean(s["fork_ns"])) for s in data["samples"]  # the one scenario's samples
             if s["target"] == target and s["arm"] == "unnamed" and s["fork_ns"]]
    if len(means) < 3:
        return None
    m = float(np.mean(means))
    sem = float(np.std(means, ddof=1)) / math.sqrt(len(means))
    return float(sps.t.ppf(0.975, len(means) - 1)) * sem / m * 100 if m > 0 else None


def still_needed(prec: dict[str, Precision], scenarios: list[str], target_pct: float, max_forks: int) -> dict[str, str]:
    """Scenario -> why it stops ("" while it needs another round)."""
    out = {}
    for sc in scenarios:
        p = prec.get(sc)
        forks = p.forks if p else 0
        if p is not None and p.half_width_pct is not None and p.half_width_pct <= target_pct:
            out[sc] = (
                f"precision reached: ±{p.half_width_pct:.2f}% <= ±{target_pct:g}% ({p.measure}) after {forks} "
                "forks per arm"
            )
        elif forks >= max_forks:
            hw = f"±{p.half_width_pct:.2f}%" if p and p.half_width_pct is not None else "unknown"
            out[sc] = (
                f"cap reached: {forks} forks per arm (max_forks), {hw} ({p.measure if p else 'no data'}) "
                f"against ±{target_pct:g}% asked"
            )
        else:
            out[sc] = ""
    return out
