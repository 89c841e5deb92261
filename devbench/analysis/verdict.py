"""The verdict of one row, from the CI, the adjusted p-value and the equivalence margin (pure).

- "slower" / "faster": adjusted p < alpha and the CI excludes 0 (on that side): the change is
  real; "slower, within ±1%" when the whole CI lies inside +-margin as well (real, and smaller
  than the margin: negligible, Verdict.negligible);
- "no difference": the whole CI lies inside +-margin and holds 0;
- "within ±1%": inside the margin, clear of 0, but not significant after Holm's adjustment;
- "not measured" when an arm has no timed fork at all;
- "no verdict: <reason>" (kind inconclusive) when no design applies: fewer than 5 paired
  batches, arms run one after the other, one run per side in a comparison;
- otherwise "inconclusive: need about N more batches": N batches per arm (processes, runs), for
  the CI to shrink to a half-width that decides one way or the other (inside the margin, or clear
  of zero at the Bonferroni level of the family, which bounds Holm's), from the batch-level
  spread with t quantiles; more forks in the same batches would not do it.
"""

from __future__ import annotations

import math

import numpy as np

from devbench.analysis.model import (
    FASTER,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    NO_VERDICT,
    NOT_MEASURED,
    SLOWER,
    Effect,
    Options,
    Verdict,
)
from devbench.analysis.stats import t_ppf

PLURAL = {"batch": "batches", "process": "processes", "run": "runs", "boot": "boots"}


def round_up(n: float) -> int:
    """Up to two significant digits: 1234 -> 1300."""
    if n <= 0:
        return 0
    scale = 10 ** max(0, int(math.floor(math.log10(n))) - 1)
    return int(math.ceil(n / scale) * scale)


def more_batches(effect: Effect, options: Options = Options(), family: int = 1) -> int | None:
    """Units (batch pairs, processes or runs) to add so the CI half-width reaches what would decide
    the row: inside the margin (margin - |change|) or clear of zero (|change|, at the Bonferroni
    level of the family, which bounds Holm's), whichever is larger. From the unit-level spread
    behind the CI (its half-width is t(n-1) x sd / sqrt(n)), with t quantiles for the new n:
    more forks per batch do not shrink a CI whose width comes from batch-to-batch variance.
    At least one more."""
    if effect.ci_low_pct is None or effect.ci_high_pct is None or effect.change_pct is None or effect.units < 2:
        return None
    n = effect.units
    half = (effect.ci_high_pct - effect.ci_low_pct) / 2.0
    need = max(options.margin_pct - abs(effect.change_pct), abs(effect.change_pct))
    if need <= 0 or half <= 0:
        return None
    a = 1.0 - options.confidence
    sd = half * math.sqrt(n) / float(t_ppf(1.0 - a / 2.0, n - 1))
    inside = options.margin_pct - abs(effect.change_pct) >= abs(effect.change_pct)
    level = a / 2.0 if inside else a / (2.0 * max(family, 1))
    z = float(t_ppf(1.0 - level, 1e6))  # the normal quantile: the smallest such m lies below (1.3 z sd / need)^2 + 20
    m = np.arange(n + 1, int(min(max((1.3 * z * sd / need) ** 2 + 20, n + 2), 1e7)))
    ok = np.flatnonzero(t_ppf(1.0 - level, m - 1) * sd / np.sqrt(m) <= need)
    return round_up(max(int(m[ok[0]]) - n, 1)) if ok.size else None


def within_label(margin_pct: float) -> str:
    """The words of a change inside the practical margin (short: the text table fits 80 columns)."""
    return f"within ±{margin_pct:g}%"


def decide(effect: Effect | None, p_adj: float | None, n_per_arm: int, options: Options = Options(),
           family: int = 1, forks_per_unit: int | None = None) -> Verdict:
    """family: how many rows share the Holm correction; forks_per_unit: to say more batches in forks too."""
    if n_per_arm == 0:
        return Verdict(NOT_MEASURED, NOT_MEASURED, None)
    if effect is None:
        return Verdict(f"{NO_VERDICT}: fewer than 2 forks an arm", INCONCLUSIVE, None)
    if effect.reason:
        return Verdict(f"{NO_VERDICT}: {effect.reason}", INCONCLUSIVE, None)
    if effect.ci_low_pct is None or effect.ci_high_pct is None:
        return Verdict(f"{NO_VERDICT}: no confidence interval (a mean of 0 or below)", INCONCLUSIVE, None)
    lo, hi, m = effect.ci_low_pct, effect.ci_high_pct, options.margin_pct
    within = -m <= lo and hi <= m
    if p_adj is not None and p_adj < options.alpha and (lo > 0 or hi < 0):
        kind = SLOWER if lo > 0 else FASTER
        return Verdict(f"{kind}, {within_label(m)}" if within else kind, kind, None, negligible=within)
    if within:
        # "no difference" only where the CI holds 0 as well; else a change too small to matter
        return Verdict(NO_DIFFERENCE if lo <= 0 <= hi else within_label(m), NO_DIFFERENCE, None)
    n = more_batches(effect, options, family)
    if not n:
        return Verdict(INCONCLUSIVE, INCONCLUSIVE, None)
    unit = {"process": "processes per arm", "run": "runs per side", "boot": "boots per kernel"}.get(
        effect.unit, PLURAL.get(effect.unit, effect.unit)
    )
    whole = effect.unit in ("run", "boot")  # a unit of its own, not a number of forks
    forks = n * forks_per_unit if forks_per_unit and not whole else None
    of = f" of {forks_per_unit} forks" if forks_per_unit and not whole else ""
    return Verdict(f"{INCONCLUSIVE}: need about {n} more {unit}{of}", INCONCLUSIVE, forks, n)
