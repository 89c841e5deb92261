"""Statistics over fork times: pure functions of numbers (numpy)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


def describe(fork_ns: Iterable[int]) -> dict[str, float | int | None]:
    a = np.asarray(list(fork_ns), dtype=np.float64) / 1e6  # ms
    if a.size == 0:
        return {"n": 0, "mean_ms": None, "median_ms": None, "stdev_ms": None, "min_ms": None, "max_ms": None}
    return {
        "n": int(a.size),
        "mean_ms": float(a.mean()),
        "median_ms": float(np.median(a)),
        "stdev_ms": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
    }


def regression_pct(unnamed_mean: float | None, named_mean: float | None) -> float | None:
    """(named - unnamed) / unnamed, in percent, as the seed's REGRESSION column."""
    if unnamed_mean is None or named_mean is None or unnamed_mean == 0:
        return None
    return (named_mean - unnamed_mean) / unnamed_mean * 100.0


def t_ppf(q: float | np.ndarray, df: float | np.ndarray) -> float | np.ndarray:
    """Student's t quantile (scipy.special.stdtrit: a ufunc, without scipy.stats' per-call overhead)."""
    from scipy.special import stdtrit

    return stdtrit(df, q)


def t_two_sided_p(t: float, df: float) -> float:
    """Two-sided p of a t statistic (scipy.special.stdtr)."""
    from scipy.special import stdtr

    return float(2.0 * stdtr(df, -abs(t)))


@dataclass(frozen=True)
class LogInterval:
    """A t interval on a mean of logs (a log ratio): estimate, its bounds, the two-sided p of 0,
    its standard error and degrees of freedom. exact: no spread at all (every unit gave the same
    value): the interval is the point, p is 0 (or 1 where the value is 0), a measurement fact."""

    estimate: float
    low: float
    high: float
    p: float
    se: float
    df: float
    exact: bool = False


def log_interval(estimate: float, se: float, df: float, confidence: float) -> LogInterval:
    """The t interval and test of `estimate` with standard error se; se 0: exact (see LogInterval)."""
    if not se > 0:
        return LogInterval(estimate, estimate, estimate, 1.0 if estimate == 0 else 0.0, 0.0, df, True)
    half = float(t_ppf(0.5 + confidence / 2.0, df)) * se
    return LogInterval(estimate, estimate - half, estimate + half, t_two_sided_p(estimate / se, df), se, df)


def paired_log_t(d: np.ndarray, confidence: float) -> LogInterval | None:
    """One-sample t on d (log ratios) at `confidence`; None under 2 values."""
    n = d.size
    if n < 2:
        return None
    return log_interval(float(d.mean()), float(d.std(ddof=1)) / float(np.sqrt(n)), n - 1, confidence)


def above_p(interval: LogInterval, threshold_log: float) -> float:
    """One-sided p of "the true value lies at or below threshold_log" (the gate's test: small when
    the interval lies above the threshold). Exact intervals: 0 above the threshold, else 1."""
    if interval.exact or not interval.se > 0:
        return 0.0 if interval.estimate > threshold_log else 1.0
    from scipy.special import stdtr

    return float(stdtr(interval.df, -(interval.estimate - threshold_log) / interval.se))
