"""devbench.analysis against fixed numbers and against scipy called directly."""

import math

import numpy as np
import pytest
from scipy import stats

from devbench.analysis import Options, analyze
from devbench.analysis.describe import describe_arm
from devbench.analysis.effect import cliffs_delta, effect
from devbench.analysis.holm import holm
from devbench.analysis.model import Effect
from devbench.analysis.outliers import modified_z, outlier_indices
from devbench.analysis.samples import ArmData, alternating, group
from devbench.analysis.trend import drift, first_batch
from devbench.analysis.verdict import decide, more_batches, round_up
from devbench.results.store import new_results, summarize
from tests.simdata import make_results


def arm(*batches, warmup=0):
    return ArmData(tuple((i, np.asarray(b, dtype=float)) for i, b in enumerate(batches)), warmup)


def test_describe_fixed_numbers():
    s = describe_arm(arm([1, 2, 3], [4, 5], [100]))
    assert (s.n, s.batches, s.min, s.max, s.median) == (6, 3, 1, 100, 3.5)
    assert s.mean == pytest.approx(115 / 6)
    assert s.stdev == pytest.approx(39.62533, abs=1e-4)  # sqrt(7850.833 / 5)
    assert s.mad == pytest.approx(1.5)  # |x - 3.5| = 2.5 1.5 .5 .5 1.5 96.5 -> median 1.5
    assert s.p25 == pytest.approx(2.25) and s.p75 == pytest.approx(4.75)
    assert (s.outliers.count, s.outliers.indices) == (1, (5,))


def test_modified_z_fixed_numbers():
    z = modified_z(np.array([1.0, 2, 3, 4, 100]))
    assert z == pytest.approx([-1.349, -0.6745, 0, 0.6745, 65.4265])
    assert outlier_indices(np.array([1.0, 2, 3, 4, 100])).tolist() == [4]
    assert outlier_indices(np.array([5.0, 5, 5, 5])).tolist() == []  # MAD 0: nothing flagged


def test_holm_fixed_numbers():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, None, 0.01]) == [pytest.approx(0.5), None, pytest.approx(0.02)]
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    assert holm([]) == []


def test_cliffs_delta_fixed_and_brute_force():
    assert cliffs_delta(np.array([1.0, 2, 3]), np.array([2.0, 2])) == 0.0
    assert cliffs_delta(np.array([3.0, 4]), np.array([1.0, 2, 3])) == pytest.approx(5 / 6)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 20, 57).astype(float), rng.integers(0, 20, 43).astype(float)
    brute = (np.sign(x[:, None] - y[None, :])).mean()
    assert cliffs_delta(x, y) == pytest.approx(brute)


def test_drift_and_first_batch_fixed_numbers():
    y = 10 + 0.01 * np.arange(100)
    pct, p = drift([y])
    assert pct == pytest.approx(0.01 * 99 / y.mean() * 100) and p < 1e-10
    pct_b, _ = drift(list(y.reshape(5, 20)))  # batch means lie on the same line
    assert pct_b == pytest.approx(pct)
    pct, p = first_batch([np.array([12.0, 12.2, 11.8]), np.array([10.0, 10.1, 9.9])])
    assert pct == pytest.approx(20.0) and p < 0.01
    flat = [np.array([10.0, 10.2, 9.8]) + 0.01 * i for i in range(6)]
    pct, p = first_batch(flat)
    assert abs(pct) < 0.3 and p > 0.05


def test_paired_effect_is_scipy_on_batch_means():
    d = make_results(shifts={"unpopulated": 0.05}, scenarios=(("unpopulated", 0, 16.0),), seed=7)
    sd = group(d)[0]
    un, na = sd.arms["unnamed"], sd.arms["named"]
    e = effect(na, un, paired_design=True)
    assert (e.design, e.unit, e.units, e.reason) == ("paired", "batch", 10, None)
    bx, by = na.batch_means(), un.batch_means()
    dl = np.log(bx) - np.log(by)
    ci = stats.t.interval(0.95, dl.size - 1, loc=dl.mean(), scale=stats.sem(dl))
    assert e.ci_low_pct == pytest.approx(np.expm1(ci[0]) * 100) and e.ci_high_pct == pytest.approx(
        np.expm1(ci[1]) * 100
    )
    assert e.p == pytest.approx(stats.ttest_rel(np.log(bx), np.log(by)).pvalue)
    fx, fy = na.forks, un.forks
    assert e.p_welch == pytest.approx(stats.ttest_ind(fx, fy, equal_var=False).pvalue)  # descriptive
    assert e.p_mwu == pytest.approx(stats.mannwhitneyu(fx, fy, alternative="two-sided").pvalue)
    # the estimate the CI is built on (its centre on the log scale), not the ratio of arithmetic means
    assert e.change_pct == pytest.approx(np.expm1(dl.mean()) * 100)
    assert e.ci_low_pct < e.change_pct < e.ci_high_pct and 1 < e.ci_low_pct
    assert effect(na, un, True, Options(fork_tests=False)).p_mwu is None


def test_sequential_arms_and_few_batches_get_no_verdict_and_say_why():
    seq = make_results(mode="separate", order="sequential", scenarios=(("s", 0, 16.0),), seed=5)
    [row] = analyze(seq).rows()
    assert row.effect.ci_low_pct is None and row.effect.p is None and row.p_holm is None
    assert row.verdict.label.startswith("no verdict: the arms ran one after the other (mode: separate")
    few = make_results(batches=3, per_batch=50, scenarios=(("s", 0, 16.0),), seed=5)
    [row] = analyze(few).rows()
    assert row.verdict.label == ("no verdict: only 3 paired batches (at least 5 are needed): "
                                 "set benchmark.batches to 10 or more")
    assert row.effect.units == 3 and row.effect.unit == "batch"  # never single forks as the unit


def test_alternating_separate_processes_are_paired_by_process():
    sep = make_results(mode="separate", shifts={"s": 0.10}, scenarios=(("s", 0, 16.0),), seed=5)
    [row] = analyze(sep).rows()
    assert (row.effect.design, row.effect.unit, row.effect.units) == ("paired", "process", 10)
    assert row.verdict.kind == "slower"


def test_alternating_is_read_from_the_order_of_the_samples():
    assert alternating([("named", 0), ("unnamed", 0), ("unnamed", 1), ("named", 1)])
    assert not alternating([("unnamed", 0), ("unnamed", 1), ("named", 0), ("named", 1)])
    assert alternating([("unnamed", 0), ("unnamed", 1), ("named", 1)])  # batch 0 has one arm: nothing to pair


def test_every_number_on_a_row_comes_from_the_batches_both_arms_have():
    d = make_results(shifts={"s": 0.03}, scenarios=(("s", 0, 16.0),), seed=9)
    d["samples"] = [s for s in d["samples"] if not (s["arm"] == "named" and s["batch"] in (2, 5, 7, 8))]
    [row] = analyze(d).rows()
    assert row.base.n == row.other.n == 600 and row.effect.units == 6
    common = [b for b in range(10) if b not in (2, 5, 7, 8)]
    ratios = [np.mean(s_["fork_ns"]) for s_ in d["samples"] if s_["arm"] == "named"], [
        np.mean(s_["fork_ns"]) for s_ in d["samples"] if s_["arm"] == "unnamed" and s_["batch"] in common]
    assert row.effect.change_pct == pytest.approx(np.expm1(np.mean(np.log(ratios[0]) - np.log(ratios[1]))) * 100)


def test_exit_is_a_second_metric():
    d = make_results(shifts={"s": 0.0}, exit_shifts={"s": 0.10}, scenarios=(("s", 0, 16.0),), seed=9)
    a = analyze(d)
    [fork], [ex] = a.rows(), a.exit_rows()
    assert (fork.metric, ex.metric) == ("fork", "exit")
    assert ex.verdict.kind == "slower" and fork.verdict.kind != "slower"
    old = make_results(scenarios=(("s", 0, 16.0),), seed=9, with_exit=False)  # schema 1: no exit_ns
    assert analyze(old).exit_rows() == []


def test_effect_needs_two_forks_an_arm():
    assert effect(arm([1.0]), arm([1.0, 2.0]), True) is None
    assert effect(arm([]), arm([1.0, 2.0]), True) is None


def effect_with(change, lo, hi, units=10):
    return Effect(change, lo, hi, "paired", "batch", units, "t", 0.5, 0.5, 0.5, 0.0)


@pytest.mark.parametrize("change,lo,hi,p,label", [
    (0.1, -0.5, 0.8, 0.7, "no difference"),
    (0.6, 0.3, 0.9, 0.001, "slower, within ±1%"),     # detectable, yet inside the margin: both said
    (0.6, 0.3, 0.9, 0.2, "within ±1%"),               # inside the margin, clear of 0, Holm p not below alpha
    (0.1, 0.0, 0.2, 0.001, "no difference"),          # the CI holds 0 (at its edge)
    (5.0, 4.0, 6.0, 0.001, "slower"),
    (-5.0, -6.0, -4.0, 0.001, "faster"),
    (5.0, 4.0, 6.0, 0.2, "inconclusive: need about"),  # CI clear of zero, Holm p not
    (0.5, -1.5, 2.5, 0.6, "inconclusive: need about"),
])
def test_verdict_rules(change, lo, hi, p, label):
    assert decide(effect_with(change, lo, hi), p, 1000).label.startswith(label)


def test_more_batches_fixed_numbers():
    assert round_up(1234) == 1300 and round_up(99.1) == 100 and round_up(7.2) == 8
    # half-width 2 from 10 batches: sd = 2 sqrt(10) / t(0.975, 9); inside the margin needs t(m-1) sd / sqrt(m) <= 1
    sd = 2 * math.sqrt(10) / stats.t.ppf(0.975, 9)
    m = next(m for m in range(11, 1000) if stats.t.ppf(0.975, m - 1) * sd / math.sqrt(m) <= 1.0)
    assert more_batches(effect_with(0.0, -2.0, 2.0)) == round_up(m - 10)
    v = decide(effect_with(0.0, -2.0, 2.0), 0.9, 1000, forks_per_unit=100)
    assert v.label == f"inconclusive: need about {round_up(m - 10)} more batches of 100 forks"
    assert (v.more_batches, v.more_forks) == (round_up(m - 10), round_up(m - 10) * 100)
    three = more_batches(effect_with(1.5, 0.0, 3.0), family=3)
    one = more_batches(effect_with(1.5, 0.0, 3.0), family=1)
    assert three > one  # a Holm family asks for a narrower CI
    assert more_batches(effect_with(0.0, -1.02, 1.02)) >= 1
    assert decide(None, None, 1).label == "no verdict: fewer than 2 forks an arm"
    assert decide(None, None, 0).label == "not measured"


def test_analyze_holm_is_across_a_targets_scenarios():
    d = make_results(shifts={"unpopulated": 0.10, "1 page": 0.0, "10 pages": 0.0}, seed=11)
    a = analyze(d, Options())
    rows = a.rows()
    assert [r.scenario for r in rows] == ["unpopulated", "1 page", "10 pages"]
    assert [r.p_holm for r in rows] == pytest.approx(holm([r.effect.p for r in rows]))
    assert rows[0].verdict.label == "slower"
    assert rows[0].base.warmup.untimed_forks == 100  # 10 batches x 10 untimed warm-up forks, reported
    assert a.to_json()["targets"][0]["rows"][0]["effect"]["design"] == "paired"


def test_same_results_same_numbers():
    d = make_results(shifts={"unpopulated": 0.03}, seed=4)
    assert analyze(d).to_json() == analyze(d).to_json()


def test_json_has_no_nan():
    d = new_results("r", "n", {}, "c.yaml")
    d["samples"] = [{"target": "t", "scenario": "s", "arm": "unnamed", "batch": 0, "warmup": 0, "fork_ns": [5, 5, 5]},
                    {"target": "t", "scenario": "s", "arm": "named", "batch": 0, "warmup": 0, "fork_ns": [5, 5, 5]}]
    out = analyze(d).to_json()
    flat = repr(out)
    assert "nan" not in flat.lower() and "inf" not in flat.lower()


def test_summary_gains_statistics_once_the_run_has_ended():
    d = make_results(shifts={"unpopulated": 0.10}, seed=3)
    row = summarize(d)[0]
    assert row["verdict"] == "slower" and row["regression_ci_pct"][0] > 5 and row["p_holm"] < 0.05
    assert row["design"] == "paired by batch" and row["regression_pct"] == pytest.approx(row["regression_pct"])
    d["run"]["status"] = "running"
    row = summarize(d)[0]
    assert row["verdict"] is None and row["regression_ci_pct"] is None and row["unnamed"]["n"] == 1000
    assert not math.isnan(row["regression_pct"])


def test_scipy_stats_loads_on_first_use_or_by_the_run_prefetch():
    import subprocess
    import sys

    code = ("import sys; import devbench.analysis, devbench.run.runner, devbench.report.html, devbench.run.adaptive; "
            "assert 'scipy.stats' not in sys.modules, 'imported at start-up'; "
            "from devbench.run import prefetch; from devbench.analysis.lazy import stats; prefetch.for_a_run().join(); "
            "from devbench.report.html import environment; assert environment().cache, 'templates not compiled'; "
            "assert 'scipy.stats' in sys.modules; print(stats.norm.ppf(0.975))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("1.95996")


def test_outliers_need_a_deviation_above_half_a_percent_of_the_median():
    """A near-zero MAD (the icount guest: sd 0.01-0.2% of the mean) flags nothing a reader acts
    on: a fork 0.1% off the median is no outlier, one 2% off is."""
    x = np.array([1000.0, 1000.01, 999.99, 1000.0, 1000.02, 999.98, 1001.0, 1000.0, 999.0, 1000.0])
    assert (np.abs(modified_z(x)) > 3.5).sum() == 2  # the modified z alone flags the 0.1% forks
    assert outlier_indices(x).tolist() == []
    assert outlier_indices(np.append(x, 1020.0)).tolist() == [10]
