"""Outliers by the modified z-score (Iglewicz and Hoaglin): reported, never dropped."""

from __future__ import annotations

import numpy as np


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


def outlier_indices(x: np.ndarray, threshold: float = 3.5) -> np.ndarray:
    return np.flatnonzero(np.abs(modified_z(x)) > threshold)
