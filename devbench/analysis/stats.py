"""Statistics over fork times: pure functions of numbers (numpy)."""

from __future__ import annotations

from collections.abc import Iterable

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


def paired_log_t(d: np.ndarray, confidence: float) -> tuple[float, float, float] | None:
    """One-sample t on d (log ratios): (mean - half, mean + half, two-sided p of mean 0) with
    half the t interval's half-width at `confidence`; None under 2 values or no spread."""
    n = d.size
    if n < 2:
        return None
    sd = float(d.std(ddof=1))
    m = float(d.mean())
    if not sd > 0:
        return None
    se = sd / np.sqrt(n)
    half = float(t_ppf(0.5 + confidence / 2.0, n - 1)) * se
    return m - half, m + half, t_two_sided_p(m / se, n - 1)
