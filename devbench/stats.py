"""Statistics over fork times: pure functions of numbers (numpy)."""

from __future__ import annotations

from typing import Iterable

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
