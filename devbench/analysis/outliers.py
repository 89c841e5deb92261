"""Outliers by the modified z-score (Iglewicz and Hoaglin): reported, never dropped.

A modified z on a near-zero MAD flags forks a few hundredths of a percent from the median
(the deterministic icount guest: sd 0.01-0.2% of the mean). A fork is an outlier only when it
is also more than FLOOR_PCT of the median away from it: below that nothing a reader acts on."""

from __future__ import annotations

import numpy as np

FLOOR_PCT = 0.5  # a fork closer than this (% of the median) to the median is never an outlier


def modified_z(x: np.ndarray) -> np.ndarray:
    """0.6745 * (x - median) / MAD; all zeros when the MAD is zero."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    if mad == 0:
        return np.zeros_like(x)
    return 0.6745 * (x - med) / mad


def outlier_indices(x: np.ndarray, threshold: float = 3.5, floor_pct: float = FLOOR_PCT) -> np.ndarray:
    """|modified z| > threshold and more than floor_pct of the median from the median."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.flatnonzero(x)
    far = np.abs(x - np.median(x)) > floor_pct / 100 * abs(float(np.median(x)))
    return np.flatnonzero((np.abs(modified_z(x)) > threshold) & far)
