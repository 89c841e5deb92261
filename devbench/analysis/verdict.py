"""The verdict of one row, from the CI, the adjusted p-value and the equivalence margin (pure).

- "no difference": the whole CI lies inside +-margin (any difference is smaller than that);
- "slower" / "faster": adjusted p < alpha and the CI excludes 0 (on that side);
- "not measured" when an arm has no timed fork at all;
- otherwise "inconclusive: need about N more forks": N per arm, for the CI to shrink to a
  half-width that decides one way or the other (inside the margin, or clear of zero at the
  Bonferroni level of the family, which bounds Holm's), assuming it shrinks as 1/sqrt(forks).
"""

from __future__ import annotations

import math

from devbench.analysis.lazy import stats

from devbench.analysis.model import FASTER, INCONCLUSIVE, NO_DIFFERENCE, NOT_MEASURED, SLOWER, Effect, Options, Verdict


def round_up(n: float) -> int:
    """Up to two significant digits: 1234 -> 1300."""
    if n <= 0:
        return 0
    scale = 10 ** max(0, int(math.floor(math.log10(n))) - 1)
    return int(math.ceil(n / scale) * scale)


def more_forks(effect: Effect, n_per_arm: int, options: Options = Options(), family: int = 1) -> int | None:
    """Forks per arm to add so the CI half-width reaches what would decide the row: inside the
    margin (margin - |change|) or clear of zero (|change|, shrunk for the multiple tests),
    whichever is larger. At least a tenth more."""
    if effect.ci_low_pct is None or effect.ci_high_pct is None or effect.change_pct is None:
        return None
    half = (effect.ci_high_pct - effect.ci_low_pct) / 2.0
    a = options.alpha
    shrink = stats.norm.isf(a / 2) / stats.norm.isf(a / (2 * max(family, 1)))
    need = max(options.margin_pct - abs(effect.change_pct), abs(effect.change_pct) * shrink)
    if need <= 0:
        return None
    total = n_per_arm * (half / need) ** 2
    return round_up(max(total - n_per_arm, 0.1 * n_per_arm, 1.0))


def decide(effect: Effect | None, p_adj: float | None, n_per_arm: int, options: Options = Options(),
           family: int = 1) -> Verdict:
    """family: how many rows share the Holm correction."""
    if n_per_arm == 0:
        return Verdict(NOT_MEASURED, NOT_MEASURED, None)
    if effect is None or effect.ci_low_pct is None or effect.ci_high_pct is None:
        return Verdict(f"{INCONCLUSIVE}: too few forks", INCONCLUSIVE, None)
    lo, hi, m = effect.ci_low_pct, effect.ci_high_pct, options.margin_pct
    if -m <= lo and hi <= m:
        return Verdict(NO_DIFFERENCE, NO_DIFFERENCE, None)
    if p_adj is not None and p_adj < options.alpha and (lo > 0 or hi < 0):
        kind = SLOWER if lo > 0 else FASTER
        return Verdict(kind, kind, None)
    n = more_forks(effect, n_per_arm, options, family)
    label = f"{INCONCLUSIVE}: need about {n} more forks" if n else INCONCLUSIVE
    return Verdict(label, INCONCLUSIVE, n)
