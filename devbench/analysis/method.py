"""What the analysis did, in words, from the analysis itself (pure): every report's method text
comes from here, built from the rows' own effects (their test, unit and count) and the options,
so the text cannot say one method while the numbers come from another."""

from __future__ import annotations

from collections.abc import Iterable

from devbench.analysis.compare import POOLED_TEST, WELCH_TEST
from devbench.analysis.effect import PAIRED_TEST
from devbench.analysis.kernels import POOLED_TEST as BOOTS_POOLED_TEST
from devbench.analysis.kernels import WELCH_TEST as BOOTS_WELCH_TEST
from devbench.analysis.model import Effect, Options, Row

UNITS = {"batch": ("batch", "batches"), "process": ("process", "processes"), "run": ("run", "runs"),
         "boot": ("boot", "boots")}

# each test an Effect names (Effect.test) -> (one sentence, a few words for the text table);
# {pair}/{units}: the unit in the singular/plural, {n}: how many units (a range over the rows)
TESTS = {
    PAIRED_TEST: ("a t interval on the log ratios of the {n} paired {pair} means (each {pair}'s two arms ran "
                  "side by side), turned back into a ratio; p is the paired t test on the same log ratios",
                  "t on log ratios of {n} paired {pair} means"),
    POOLED_TEST: ("a two-sample t interval (pooled variance) on the log run means, {n} runs a side (the run is "
                  "the unit), turned back into a ratio; p is its t test",
                  "two-sample t on log means of {n} runs a side"),
    WELCH_TEST: ("Welch's two-sample t interval on the log run means, at least {n} runs a side (the run is the "
                 "unit), turned back into a ratio; p is its t test",
                 "Welch t on log means of {n}+ runs a side"),
    BOOTS_POOLED_TEST: ("a two-sample t interval (pooled variance) on the log boot means, {n} boots of each kernel "
                        "(the boot is the unit), turned back into a ratio; p is its t test",
                        "two-sample t on log means of {n} boots a kernel"),
    BOOTS_WELCH_TEST: ("Welch's two-sample t interval on the log boot means, at least {n} boots of each kernel (the "
                       "boot is the unit), turned back into a ratio; p is its t test",
                       "Welch t on log means of {n}+ boots a kernel"),
}


def _count(effects: list[Effect]) -> str:
    lo, hi = min(e.units for e in effects), max(e.units for e in effects)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _groups(rows: Iterable[Row]) -> list[tuple[str, str, list[Effect]]]:
    """(test, unit, effects) for every test that gave a CI, in the order first met."""
    out: dict[tuple[str, str], list[Effect]] = {}
    for r in rows:
        e = r.effect
        if e is not None and e.ci_low_pct is not None:
            out.setdefault((e.test, e.unit), []).append(e)
    return [(t, u, es) for (t, u), es in out.items()]


def _fill(template: str, unit: str, effects: list[Effect]) -> str:
    pair, units = UNITS.get(unit, (unit, unit + "s"))
    return template.format(pair=pair, units=units, n=_count(effects))


def describe_method(rows: Iterable[Row], options: Options) -> str:
    """The method as the report's reader needs it: what the CI and p are, the Holm family, the
    verdict's rule and margin, in the analysis's own parameters."""
    rows = list(rows)
    level = f"{options.confidence * 100:g}%"
    groups = _groups(rows)
    if groups:
        how = "; ".join(_fill(TESTS[t][0], u, es) for t, u, es in groups)
        ci = f"The {level} CI of each change is {how}. The change shown is the estimate that CI is built on."
    else:
        ci = f"No row has a {level} CI (see each verdict for why)."
    exact = " Identical ratios in every unit (no spread) make an exact CI: the point itself." if any(
        r.effect is not None and r.effect.exact for r in rows) else ""
    m = f"{options.margin_pct:g}%"
    return (f"{ci}{exact} p (Holm) is that p adjusted (Holm-Bonferroni) over the rows of each target. Verdict, "
            f"against a margin of ±{m}: “slower”/“faster” when p (Holm) is below {options.alpha:g} and the CI "
            f"excludes 0, with “within ±{m}” when the whole CI lies inside ±{m} too (real, but smaller than the "
            f"margin); “no difference” when the whole CI lies inside ±{m} and holds 0; otherwise inconclusive, with "
            f"about how many more batches would decide it, or no verdict where no design applies.")


def method_line(rows: Iterable[Row], options: Options) -> str:
    """The same in one short line, under a text or markdown table (it fits 80 columns)."""
    groups = _groups(rows)
    level = f"{options.confidence * 100:g}%"
    how = "; ".join(_fill(TESTS[t][1], u, es) for t, u, es in groups) or "no row has one"
    return f"{level} CI: {how}; margin ±{options.margin_pct:g}%"
