"""Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1) (pure)."""

from __future__ import annotations

from collections.abc import Sequence


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Adjusted p-values in the input order; None stays None and does not count as a test."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(tested)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
