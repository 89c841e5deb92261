"""What could have spoiled a run: drift over the run and a slow first batch (pure).

With enough batches both are judged on batch means, so ordinary batch-to-batch variation is
not mistaken for a trend; with fewer, on the forks themselves.
"""

from __future__ import annotations

import numpy as np

from devbench.analysis.lazy import stats
from devbench.analysis.stats import t_two_sided_p

FLAG_P = 0.01  # flagged when this sure (p below) and larger than the equivalence margin


def _finite(p: float) -> float | None:
    return float(p) if np.isfinite(p) else None


def drift(batches: list[np.ndarray], min_batches: int = 5) -> tuple[float | None, float | None]:
    """Least-squares line of fork time against fork index: (fitted change over the arm in % of
    its mean, p-value of the slope). Fitted to batch means at their batch's middle fork index
    when there are min_batches or more, else to every fork."""
    forks = np.concatenate(batches) if batches else np.empty(0)
    n = forks.size
    if n < 3 or np.ptp(forks) == 0:
        return None, None
    if len(batches) >= min_batches:
        sizes = np.array([b.size for b in batches], dtype=np.float64)
        x = np.cumsum(sizes) - sizes / 2.0 - 0.5
        y = np.array([b.mean() for b in batches])
    else:
        x, y = np.arange(n, dtype=np.float64), forks
    if np.ptp(y) == 0:
        return 0.0, 1.0
    slope, p = _line(x, y)
    return float(slope * (n - 1) / forks.mean() * 100.0), p


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
    """Least-squares slope and the two-sided p of its t test (as scipy's linregress)."""
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(xc @ xc), float(yc @ yc), float(xc @ yc)
    slope = sxy / sxx
    df = x.size - 2
    if df <= 0:
        return slope, None
    r2 = min(sxy * sxy / (sxx * syy), 1.0)
    if r2 >= 1.0:
        return slope, 0.0
    return slope, _finite(t_two_sided_p(np.sqrt(r2 * df / (1.0 - r2)), df))


def first_batch(batches: list[np.ndarray], min_batches: int = 5) -> tuple[float | None, float | None]:
    """(first batch's mean over the other batches' mean - 1, in %, p-value), or Nones. The p is
    a t prediction test of the first batch mean against the other batch means when there are
    min_batches or more, else Welch's t on the forks."""
    if len(batches) < 2 or batches[0].size < 2:
        return None, None
    first, rest = batches[0], np.concatenate(batches[1:])
    if rest.size < 2 or rest.mean() == 0:
        return None, None
    pct = float((first.mean() / rest.mean() - 1.0) * 100.0)
    if len(batches) >= min_batches:
        means = np.array([b.mean() for b in batches[1:]])
        k, sd = means.size, means.std(ddof=1)
        if sd == 0:
            return pct, (1.0 if first.mean() == means.mean() else 0.0)
        t = (first.mean() - means.mean()) / (sd * np.sqrt(1.0 + 1.0 / k))
        return pct, _finite(t_two_sided_p(t, k - 1))
    return pct, _finite(stats.ttest_ind(first, rest, equal_var=False).pvalue)


def flagged(change_pct: float | None, p: float | None, margin_pct: float) -> bool:
    return change_pct is not None and p is not None and p < FLAG_P and abs(change_pct) > margin_pct
