"""How much slower one arm is than another: ratio of batch means with a paired t CI (pure)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from devbench.analysis.lazy import stats
from devbench.analysis.model import Effect, Options
from devbench.analysis.samples import ArmData
from devbench.analysis.stats import LogInterval, paired_log_t


def ratio_of_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) / np.mean(y, axis=axis)


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """P(x > y) - P(x < y) over all pairs, from the Mann-Whitney U of x."""
    u = stats.mannwhitneyu(x, y, alternative="two-sided").statistic
    return float(2.0 * u / (x.size * y.size) - 1.0)


def _p(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def no_verdict_reason(pairs: int, options: Options) -> str:
    return (f"only {pairs} paired batch{'es' if pairs != 1 else ''} (at least {options.min_batches} are needed): "
            f"set benchmark.batches to 10 or more")


PAIRED_TEST = "paired t, log batch means"  # devbench.analysis.method describes each test by this name
SEQUENTIAL = ("the arms ran one after the other (mode: separate, one process per arm): drift cannot be told "
              "from a difference; run again (separate mode now alternates) or use mode: interleaved")


def fork_p_values(
    fx: np.ndarray, fy: np.ndarray, options: Options = Options()
) -> tuple[float | None, float | None, float | None]:
    """Welch, Mann-Whitney and Cliff's delta on single forks: DESCRIPTIVE only. Forks of one batch
    share its conditions, so they are not independent and these p-values are not tests of any
    design (on simulated interleaved A/A runs of 10 x 100 forks, Welch and Mann-Whitney on the
    forks both reject in 10.3% of 300 runs at 0.05); no verdict uses them.
    Nones when options.fork_tests is off (the calibration, which needs speed)."""
    if not options.fork_tests:
        return None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (_p(stats.ttest_ind(fx, fy, equal_var=False).pvalue),
                _p(stats.mannwhitneyu(fx, fy, alternative="two-sided").pvalue), cliffs_delta(fx, fy))


def effect(x: ArmData, y: ArmData, paired_design: bool, options: Options = Options(),
           alternating: bool = True, unit: str = "batch") -> Effect | None:
    """x against y (x named, y unnamed), paired by batch: each batch's two arms ran next to each
    other in time, so drift cancels in their ratio. The CI is a t interval on the log ratios of
    batch means and p its paired t test (one statistic: the CI excludes 0 exactly when p < alpha).
    Fewer than min_batches pairs, or arms that did not alternate: the change only, no CI, no p,
    and the reason (never single forks as the unit). None with under 2 forks an arm.
    paired_design False (arms from different processes, one after the other) is the sequential case."""
    if x.forks.size < 2 or y.forks.size < 2 or y.forks.mean() == 0:
        return None
    common = tuple(sorted(set(x.batch_numbers) & set(y.batch_numbers)))
    fx_all, fy_all = x.forks, y.forks
    if not (paired_design and alternating):
        p_w, p_m, cd = fork_p_values(fx_all, fy_all, options)
        return Effect(float((fx_all.mean() / fy_all.mean() - 1.0) * 100.0), None, None, "none", "arm", 0,
                      "none", None, p_w, p_m, cd, SEQUENTIAL)
    xs, ys = x.only(common), y.only(common)
    ux, uy = xs.batch_means(common), ys.batch_means(common)
    fx, fy = xs.forks, ys.forks
    change = (
        float((ratio_of_means(ux, uy) - 1.0) * 100.0)
        if ux.size
        else float((fx_all.mean() / fy_all.mean() - 1.0) * 100.0)
    )
    p_w, p_m, cd = fork_p_values(fx if fx.size > 1 else fx_all, fy if fy.size > 1 else fy_all, options)
    if len(common) < options.min_batches:
        return Effect(change, None, None, "paired", unit, len(common), "none", None, p_w, p_m, cd,
                      no_verdict_reason(len(common), options))
    d = np.log(ux) - np.log(uy) if np.all(ux > 0) and np.all(uy > 0) else np.array([])
    t = paired_log_t(d, options.confidence)
    return with_interval(Effect(
        change_pct=change, ci_low_pct=None, ci_high_pct=None,
        design="paired", unit=unit, units=int(ux.size), test=PAIRED_TEST,
        p=None, p_welch=p_w, p_mwu=p_m, cliffs_delta=cd,
    ), t)


def with_interval(e: Effect, t: LogInterval | None) -> Effect:
    """The effect with its CI and p from a t interval on log ratios: the change is the interval's
    own estimate (so it always lies inside its CI; a ratio of arithmetic means need not, with a
    heavy tail)."""
    if t is None:
        return e
    return replace(e, change_pct=float(np.expm1(t.estimate) * 100.0), ci_low_pct=float(np.expm1(t.low) * 100.0),
                   ci_high_pct=float(np.expm1(t.high) * 100.0), p=t.p, se_log=t.se, df=float(t.df), exact=t.exact)
