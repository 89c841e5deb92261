"""Descriptive statistics of one arm (pure)."""

from __future__ import annotations

import numpy as np

from devbench.analysis.model import ArmStats, Options, Outliers, Trend, WarmupCheck
from devbench.analysis.outliers import outlier_indices
from devbench.analysis.samples import ArmData
from devbench.analysis.trend import drift, first_batch, flagged

PERCENTILES = (5, 25, 75, 95, 99)


def _empty(arm: ArmData) -> ArmStats:
    none = dict.fromkeys(("mean", "median", "stdev", "mad", "min", "max", "p5", "p25", "p75", "p95", "p99"))
    return ArmStats(n=0, batches=0, **none, outliers=Outliers(0, ()), drift=Trend(None, None, False),
                    warmup=WarmupCheck(None, None, False, arm.untimed_warmup))


def describe_arm(arm: ArmData, options: Options = Options()) -> ArmStats:
    x = arm.forks
    if x.size == 0:
        return _empty(arm)
    pct = np.percentile(x, PERCENTILES)
    idx = outlier_indices(x, options.outlier_z)
    batches = [b for _, b in arm.batches]
    d_pct, d_p = drift(batches, options.min_batches)
    w_pct, w_p = first_batch(batches, options.min_batches)
    return ArmStats(
        n=int(x.size),
        batches=len(arm.batches),
        mean=float(x.mean()),
        median=float(np.median(x)),
        stdev=float(x.std(ddof=1)) if x.size > 1 else 0.0,
        mad=float(np.median(np.abs(x - np.median(x)))),
        min=float(x.min()),
        max=float(x.max()),
        **{f"p{p}": float(v) for p, v in zip(PERCENTILES, pct, strict=False)},
        outliers=Outliers(int(idx.size), tuple(int(i) for i in idx)),
        drift=Trend(d_pct, d_p, flagged(d_pct, d_p, options.margin_pct)),
        warmup=WarmupCheck(w_pct, w_p, flagged(w_pct, w_p, options.margin_pct), arm.untimed_warmup),
    )
