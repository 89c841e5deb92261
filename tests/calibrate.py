"""Calibration of every design a user can choose, on simulated runs with a time order
(tests/simdata.py) fed through devbench's own analysis: false-positive rate on A/A data, CI
coverage of the true shift, and power at +2, +5 and +12%, under each drift model.

Designs:
  interleaved   10 batches, both arms in one process, alternating (the default)
  separate      10 batches, one process per arm and batch in alternating order (ABBA)
  resumed       interleaved, the payload restarted after batch 5 (a resumed run)
  adaptive      rounds of 10 batches (a new process each) until the CI half-width of the rounds
                before the last is at most 1%, at most 4 rounds (devbench.run.adaptive's stop rule)
  compare       3 runs against 3 runs, run-to-run sd 1% (the run is the unit; both arms' rows,
                one Holm family: a false positive is either row called; coverage: the named row's CI)
  kernels       two kernels of one run, 2 boots each in ABBA rounds (A B B A), boot-to-boot sd 1%
                (the boot is the unit; the kernels table's two rows one Holm family, as compare)
Designs that must never give a verdict (no design can separate the difference from time):
  sequential    old separate-mode results: all unnamed batches, then all named ones
  few batches   3 batches (fewer than 5 paired)
  compare 1:1   one run per side, run-to-run sd 1%
  kernels 1:1   one boot of each kernel

Used by tests/unit/run/test_calibration.py (a quick sweep) and benchmarks/calibration.py (a large one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from devbench.analysis import Options, analyze, compare
from devbench.analysis.model import FASTER, SLOWER, Row
from devbench.run.adaptive import precisions, still_needed
from tests.simdata import DRIFTS, make_kernels_results, make_results

OPTIONS = Options(fork_tests=False)  # the descriptive fork-level tests are not what is calibrated
ONE = (("s", 0, 16.36),)
PER_BATCH = 50
SHIFTS = (0.02, 0.05, 0.12)
FPR_BOUNDS = (0.02, 0.08)
MIN_COVERAGE = 0.94
RUN_SD = 0.01

Trial = Callable[[float, str, int], Row]


def _run(shift: float, drift: str, seed: int, **kw) -> dict:
    return make_results(shifts={"s": shift}, scenarios=ONE, per_batch=PER_BATCH, drift=drift, seed=seed,
                        with_exit=False, **kw)


def _row(data: dict) -> Row:
    [row] = analyze(data, OPTIONS).rows()
    return row


def interleaved(shift: float, drift: str, seed: int) -> Row:
    return _row(_run(shift, drift, seed))


def separate(shift: float, drift: str, seed: int) -> Row:
    return _row(_run(shift, drift, seed, mode="separate"))


def resumed(shift: float, drift: str, seed: int) -> Row:
    return _row(_run(shift, drift, seed, restarts=(5,)))


ROUND, ROUNDS, PRECISION = 10, 4, 1.0


def adaptive(shift: float, drift: str, seed: int) -> Row:
    """The whole cap is simulated; the stop rule decides how many rounds the analysis sees."""
    full = _run(shift, drift, seed, batches=ROUND * ROUNDS, round_batches=ROUND)
    full["run"]["config"]["benchmark"]["batches"] = ROUND  # a round is `batches` batches
    for rounds in range(1, ROUNDS + 1):
        data = {**full, "samples": [s for s in full["samples"] if s["batch"] < rounds * ROUND]}
        prec = precisions(data, "phone")
        if still_needed(prec, ["s"], PRECISION, ROUNDS * ROUND * PER_BATCH)["s"]:
            break
    return _row(data)


def _runs(shift: float, drift: str, seed: int, n: int, side: int) -> list[dict]:
    return [make_results(scenarios=ONE, per_batch=PER_BATCH, drift=drift, seed=seed * 100 + 10 * side + i,
                         scale=1.0 + shift, run_sd=RUN_SD, with_exit=False) for i in range(n)]


def _compare(shift: float, drift: str, seed: int, n: int) -> Row:
    """The comparison's rows (unnamed and named arm) are one Holm family: the named arm's row,
    carrying the verdict of the row that got one if either did (the family-wise rate is what
    Holm holds at alpha); its CI is the named arm's own (coverage is per row)."""
    rows = compare(_runs(0.0, drift, seed, n, 0), _runs(shift, drift, seed, n, 1), OPTIONS).pairs[0].rows
    named = next(r for r in rows if r.arm == "named")
    called = [r for r in rows if r.verdict.kind in (SLOWER, FASTER)]
    return replace(named, verdict=called[0].verdict) if called and named not in called else named


def compare_3(shift: float, drift: str, seed: int) -> Row:
    return _compare(shift, drift, seed, 3)


def compare_1(shift: float, drift: str, seed: int) -> Row:
    return _compare(shift, drift, seed, 1)


# kernels compared in one run: noise as make_results's defaults, each boot with its own level (sd 1%)
KERNEL_NOISE = {"boot_sd": RUN_SD, "process_sd": 0.01, "batch_sd": 0.02, "arm_batch_sd": 0.005, "sigma": 0.08}


def _kernels(shift: float, drift: str, seed: int, boots: int) -> Row:
    """Kernel B against kernel A, booted in ABBA rounds: the kernels table's rows (unnamed and
    named arm) are one Holm family, counted as compare's are (see _compare); the shift is kernel
    B's named arm."""
    data = make_kernels_results(kernels=("a", "b"), boots=boots, shifts={"b": {"named": shift}}, seed=seed,
                                drift=drift, scenarios=ONE, per_batch=PER_BATCH, batches=10, named_cost=0.0,
                                **KERNEL_NOISE)
    rows = analyze(data, OPTIONS).kernels[0].rows
    named = next(r for r in rows if r.arm == "named")
    called = [r for r in rows if r.verdict.kind in (SLOWER, FASTER)]
    return replace(named, verdict=called[0].verdict) if called and named not in called else named


def kernels_2(shift: float, drift: str, seed: int) -> Row:
    return _kernels(shift, drift, seed, 2)


def kernels_1(shift: float, drift: str, seed: int) -> Row:
    return _kernels(shift, drift, seed, 1)


def sequential(shift: float, drift: str, seed: int) -> Row:
    return _row(_run(shift, drift, seed, order="sequential"))


def few_batches(shift: float, drift: str, seed: int) -> Row:
    return _row(_run(shift, drift, seed, batches=3))


DESIGNS: dict[str, Trial] = {"interleaved": interleaved, "separate": separate, "resumed": resumed,
                             "adaptive": adaptive, "compare 3:3": compare_3, "kernels 2:2": kernels_2}
NO_VERDICT: dict[str, Trial] = {"sequential": sequential, "few batches": few_batches, "compare 1:1": compare_1,
                                "kernels 1:1": kernels_1}


@dataclass
class Cell:
    design: str
    drift: str
    trials: int = 0
    called: int = 0           # A/A rows called slower or faster
    covered: int = 0          # CIs (A/A and shifted) holding the true shift
    with_ci: int = 0
    power: dict[float, tuple[int, int]] = field(default_factory=dict)  # shift -> (called in its direction, trials)

    @property
    def fpr(self) -> float:
        return self.called / self.trials if self.trials else math.nan

    @property
    def coverage(self) -> float:
        return self.covered / self.with_ci if self.with_ci else math.nan


def _covers(row: Row, shift: float) -> bool | None:
    e = row.effect
    if e is None or e.ci_low_pct is None or e.ci_high_pct is None:
        return None
    truth = shift * 100.0
    return e.ci_low_pct <= truth <= e.ci_high_pct


def sweep(trials: int, power_trials: int, designs: dict[str, Trial] = DESIGNS, drifts=DRIFTS,
          seed0: int = 1) -> list[Cell]:
    """A/A trials per design and drift model; power trials (+2, +5, +12%) under each drift model.
    Seeds: a cell's A/A runs from seed0 + 1e6 x design + 1e4 x drift model, its power runs 5000
    above, 1000 a shift: so at most 5000 A/A and 1000 power runs a call (more would reuse seeds)."""
    if trials > 5_000 or power_trials > 1_000:
        raise ValueError(f"sweep: {trials} A/A and {power_trials} power runs a cell would reuse seeds "
                         "(at most 5000 and 1000 a call; call again with another seed0)")
    cells = []
    for d_i, (design, trial) in enumerate(designs.items()):
        for m_i, drift in enumerate(drifts):
            cell = Cell(design, drift)
            base = seed0 + 1_000_000 * d_i + 10_000 * m_i
            for i in range(trials):
                row = trial(0.0, drift, base + i)
                cell.trials += 1
                cell.called += row.verdict.kind in (SLOWER, FASTER)
                c = _covers(row, 0.0)
                if c is not None:
                    cell.with_ci += 1
                    cell.covered += c
            for s_i, shift in enumerate(SHIFTS):
                hits = 0
                for i in range(power_trials):
                    row = trial(shift, drift, base + 5_000 + 1_000 * s_i + i)
                    hits += row.verdict.kind == SLOWER
                    c = _covers(row, shift)
                    if c is not None:
                        cell.with_ci += 1
                        cell.covered += c
                cell.power[shift] = (hits, power_trials)
            cells.append(cell)
    return cells


def merge(cells: list[Cell], drift: str | None = None) -> Cell:
    """One cell from several of one design (chunks of one cell, or its drift models): counts summed."""
    out = Cell(cells[0].design, drift or cells[0].drift, power={s: (0, 0) for s in SHIFTS})
    for c in cells:
        out.trials += c.trials
        out.called += c.called
        out.covered += c.covered
        out.with_ci += c.with_ci
        out.power = {s: (out.power[s][0] + c.power.get(s, (0, 0))[0], out.power[s][1] + c.power.get(s, (0, 0))[1])
                     for s in SHIFTS}
    return out


def long_sweep(design: str, trials: int, power_trials: int, drifts=DRIFTS, block: int = 1000,
               seed0: int = 100_000_001) -> list[tuple[Cell, list[int]]]:
    """One design at many runs, under each drift model: sweeps of `block` A/A runs, each on
    fresh seeds (seed0 + 1e7 x block number), merged. Per drift model: the cell, and the A/A
    runs called in each block (see dispersion_p)."""
    n_blocks = max(math.ceil(trials / block), 1)
    per_power = math.ceil(power_trials / n_blocks)
    parts = [
        sweep(block, per_power, {design: DESIGNS[design]}, drifts, seed0 + 10_000_000 * j) for j in range(n_blocks)
    ]
    return [(merge([p[m_i] for p in parts]), [p[m_i].called for p in parts]) for m_i in range(len(drifts))]


def dispersion_p(counts: list[int], block: int) -> float:
    """Whether blocks of `block` runs each, with these counts called, vary more than binomial
    sampling makes them: the chi-square test of their spread about the pooled rate (p-value;
    NaN under two blocks or a pooled rate of 0 or 1)."""
    from scipy.stats import chi2

    k = np.asarray(counts, dtype=np.float64)
    p = k.sum() / (block * k.size) if k.size else math.nan
    if k.size < 2 or not 0.0 < p < 1.0:
        return math.nan
    stat = float(((k - block * p) ** 2).sum() / (block * p * (1.0 - p)))
    return float(chi2.sf(stat, k.size - 1))


def long_table(rows: list[tuple[Cell, list[int]]], block: int = 1000) -> str:
    head = ("| design | drift | A/A false positives (95% CI) | CI coverage | power +2% | power +5% | power +12% "
            f"| blocks of {block} | dispersion p |\n|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for c, counts in rows:
        lo, hi = clopper_pearson(c.called, c.trials, 0.95)
        lines.append(f"| {c.design} | {c.drift} | {c.fpr:.2%} [{lo:.2%}, {hi:.2%}] ({c.trials}) | {c.coverage:.2%} | "
                     + " | ".join(f"{h / n:.0%}" for h, n in (c.power[s] for s in SHIFTS))
                     + f" | {min(counts) / block:.1%}-{max(counts) / block:.1%} | {dispersion_p(counts, block):.2f} |")
    return head + "\n".join(lines) + "\n"


def never_a_verdict(
    trials: int, designs: dict[str, Trial] = NO_VERDICT, drifts=DRIFTS, seed0: int = 7
) -> dict[str, int]:
    """Design -> rows that got a verdict (slower/faster/no difference) anyway: must be 0."""
    out = {}
    for d_i, (design, trial) in enumerate(designs.items()):
        got = 0
        for m_i, drift in enumerate(drifts):
            for shift in (0.0, 0.12):
                for i in range(trials):
                    row = trial(shift, drift, seed0 + 1_000_000 * d_i + 10_000 * m_i + int(shift * 1000) + i)
                    got += not row.verdict.label.startswith("no verdict")
        out[design] = got
    return out


def clopper_pearson(k: int, n: int, level: float = 0.99) -> tuple[float, float]:
    from scipy.stats import beta

    a = 1.0 - level
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


FAMILY_LEVEL = 0.99  # a sweep whose every rate lies exactly on its bound fails in at most 1% of sweeps


def check_level(checks: int, family_level: float = FAMILY_LEVEL) -> float:
    """The confidence of each check's interval: Bonferroni over the sweep's checks (two a cell)."""
    return 1.0 - (1.0 - family_level) / max(checks, 1)


def failures(cells: list[Cell], family_level: float = FAMILY_LEVEL, checks: int | None = None) -> list[str]:
    """Cells whose rate the sweep shows to lie outside the bounds: the Clopper-Pearson interval of
    the estimate, at a Bonferroni level over every check made in this call (false positives and
    coverage of each cell), lies wholly outside. The bounds are on the true rates; an estimate
    carries sampling error (sd 0.69 points at 5% and 1000 runs), so holding estimates to the
    bounds fails calibrated designs by chance: a 95% CI's coverage estimated from 1750 CIs falls
    below 94% in 2.7% of cells, and one of 30 such cells does in 56% of sweeps. Pass every cell in one
    call, so the family-wise level holds, or give the sweep's count of checks. See detectable()
    for what a given run count resolves."""
    out = []
    lo_b, hi_b = FPR_BOUNDS
    level = check_level(checks or 2 * len(cells), family_level)
    for c in cells:
        f_lo, f_hi = clopper_pearson(c.called, c.trials, level)
        c_lo, c_hi = clopper_pearson(c.covered, c.with_ci, level)
        if f_hi < lo_b or f_lo > hi_b:
            out.append(f"{c.design} / {c.drift}: A/A false positives {c.fpr:.1%} (bounds {lo_b:.0%}-{hi_b:.0%}; "
                       f"{level:.4%} interval {f_lo:.1%}-{f_hi:.1%}, {c.trials} runs)")
        if c.with_ci == 0 or c_hi < MIN_COVERAGE:
            out.append(f"{c.design} / {c.drift}: CI coverage {c.coverage:.1%} (at least {MIN_COVERAGE:.0%}; "
                       f"{level:.4%} interval {c_lo:.1%}-{c_hi:.1%}, {c.with_ci} CIs)")
    return out


def outside_by_chance(cells: list[Cell]) -> list[str]:
    """Estimates outside the bounds that failures() does not count (within sampling error):
    printed, so a reader sees them; measure such a cell again with more runs."""
    lo_b, hi_b = FPR_BOUNDS
    return ([f"{c.design} / {c.drift}: A/A false positives {c.fpr:.1%} ({c.trials} runs)"
             for c in cells if not lo_b <= c.fpr <= hi_b]
            + [f"{c.design} / {c.drift}: CI coverage {c.coverage:.1%} ({c.with_ci} CIs)"
               for c in cells if c.with_ci and c.coverage < MIN_COVERAGE])


def detectable(n: int, checks: int, family_level: float = FAMILY_LEVEL, power: float = 0.9) -> tuple[float, float]:
    """What failures() resolves with n A/A runs a cell (and about 1.75 n CIs, the sweep's power
    runs included) among `checks` checks: (the A/A false-positive rate above 8%, the coverage
    below 94%) that it flags with probability `power`."""
    from scipy.stats import binom

    level = check_level(checks, family_level)

    def first_flagged(m: int, bad) -> int:
        return next(k for k in range(m + 1) if bad(*clopper_pearson(k, m, level)))

    k_fpr = first_flagged(n, lambda lo, hi: lo > FPR_BOUNDS[1])
    m = int(round(1.75 * n))
    # misses: flagged at this many covered or fewer
    k_cov = m - first_flagged(m, lambda lo, hi: lo > 1.0 - MIN_COVERAGE)
    grid = np.linspace(0.0, 1.0, 20001)
    fpr = grid[np.argmax(binom.sf(k_fpr - 1, n, grid) >= power)]
    cov = grid[::-1][np.argmax(binom.cdf(k_cov, m, grid[::-1]) >= power)]
    return float(fpr), float(cov)


def table(cells: list[Cell]) -> str:
    head = ("| design | drift | A/A false positives | CI coverage | power +2% | power +5% | power +12% "
            "|\n|---|---|---|---|---|---|---|\n")
    lines = [f"| {c.design} | {c.drift} | {c.fpr:.1%} ({c.trials}) | {c.coverage:.1%} | "
             + " | ".join(f"{h / n:.0%}" for h, n in (c.power[s] for s in SHIFTS)) + " |" for c in cells]
    return head + "\n".join(lines) + "\n"
