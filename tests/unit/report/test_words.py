"""The words a reader sees (issue 26): verdicts that say whether a change is real and whether it
matters, each table's margin and method, the spread next to every mean, the method text made
from the method used, an exact difference where there is no spread. On simulated runs
(tests/simdata.py) in devbench's own results format; tests/lab/test_report_words_lab.py does
the same on a real run."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from scipy import stats

from devbench.analysis import Options, analyze, compare
from devbench.analysis.method import TESTS, describe_method, method_line
from devbench.analysis.samples import group
from devbench.report.compare_html import render_compare_html
from devbench.report.html import render_html
from devbench.report.outputs import compare_output, run_output
from devbench.report.table import fmt_spread
from tests.simdata import make_results

QUIET = {"batch_sd": 0.0005, "arm_batch_sd": 0.0002, "sigma": 0.0005}  # near-deterministic, as under icount
SHIFTS = {"unpopulated": 0.0125, "1 page": 0.005, "10 pages": 0.0}


def quick_start_like(**kw):
    return make_results(**{"shifts": SHIFTS, "batches": 10, "per_batch": 1, "seed": 3, **QUIET, **kw})


def text_rows(text: str) -> dict[str, str]:
    """Each scenario's row, with the line under it where the columns past 80 go ("p (Holm): ...;
    verdict: ...")."""
    lines = text.splitlines()
    return {ln.split("  ")[0].strip(): ln + " " + lines[i + 1].strip() for i, ln in enumerate(lines)
            if ln.startswith(("unpopulated", "1 page", "10 "))}


def test_a_real_change_inside_the_margin_says_both_facts():
    """Before: `1 page ... +0.50% [+0.44%, +0.56%] <0.001 no difference`."""
    d = quick_start_like()
    rows = text_rows(run_output(d, analyze(d), "text"))
    assert rows["unpopulated"].endswith("p (Holm): <0.001; verdict: slower")
    assert rows["1 page"].endswith("p (Holm): <0.001; verdict: slower, within ±1%")
    assert rows["10 pages"].endswith("verdict: no difference")
    for r in analyze(d).rows():  # "no difference" only where the CI holds 0 as well
        assert r.verdict.label != "no difference" or r.effect.ci_low_pct <= 0 <= r.effect.ci_high_pct
    # a narrower margin: the same row is simply "slower"; the margin is said under the table
    narrow = run_output(d, analyze(d, Options(margin_pct=0.25)), "text")
    assert text_rows(narrow)["1 page"].endswith("<0.001; verdict: slower")
    assert "; margin ±0.25%;" in narrow


def test_every_format_says_its_margin_and_method():
    d = quick_start_like()
    a = analyze(d)
    legend = "95% CI: t on log ratios of 10 paired batch means; margin ±1%; ± is the sd"
    assert f"  {legend}" in run_output(d, a, "text").splitlines()
    assert f"*{legend}*" in run_output(d, a, "markdown").splitlines()
    html = render_html(d, a)
    assert describe_method(a.rows(), a.options) in html.replace("&#39;", "'") and "BCa" not in html
    js = json.loads(run_output(d, a, "json"))
    assert js["options"]["margin_pct"] == 1.0 and js["targets"][0]["rows"][1]["verdict"] == "slower, within ±1%"
    [line] = [r for r in csv.DictReader(io.StringIO(run_output(d, a, "csv"))) if r["scenario"] == "1 page"]
    assert line["verdict"] == "slower, within ±1%" and line["margin_pct"] == "1.0"
    # every format shows the same change: the estimate the CI is built on
    estimate = a.rows()[1].effect.change_pct
    assert float(line["change_pct"]) == pytest.approx(estimate) == js["targets"][0]["rows"][1]["change_pct"]
    assert "verdict (margin ±1%)</th>" in html
    # every text line fits 80 columns: the legend, and the verdict words
    assert len(f"  {legend}") <= 80 and len("slower, within ±1%") <= 18


def test_the_described_method_is_the_one_computed_paired():
    """The CI, computed here on its own from the samples as the text describes it (a t interval
    on the log ratios of the paired batch means), is the CI on the row; and the text names it.
    If the analysis changed its method without its description, one of these fails."""
    d = make_results(shifts={"unpopulated": 0.03}, scenarios=(("unpopulated", 0, 16.0),), seed=8)
    a = analyze(d)
    [row] = a.rows()
    [sd] = group(d)
    logs = np.log(sd.arms["named"].batch_means()) - np.log(sd.arms["unnamed"].batch_means())
    lo, hi = stats.ttest_1samp(logs, 0.0).confidence_interval(0.95)
    assert (row.effect.ci_low_pct, row.effect.ci_high_pct) == pytest.approx((np.expm1(lo) * 100, np.expm1(hi) * 100))
    assert row.effect.change_pct == pytest.approx(np.expm1(logs.mean()) * 100)  # the estimate the CI is built on
    text = describe_method(a.rows(), a.options)
    assert "a t interval on the log ratios of the 10 paired batch means" in text and "paired t test" in text
    assert "bootstrap" not in text and row.effect.test in TESTS


def test_the_described_method_is_the_one_computed_runs():
    a = [make_results(seed=50 + i, scenarios=(("unpopulated", 0, 16.0),), run_sd=0.01) for i in range(3)]
    b = [make_results(seed=60 + i, scenarios=(("unpopulated", 0, 16.0),), run_sd=0.01, scale=1.05) for i in range(3)]
    cmp = compare(a, b, Options())
    row = cmp.pairs[0].rows[0]
    la = [np.log(np.mean([np.mean(s["fork_ns"]) for s in r["samples"] if s["arm"] == "unnamed"])) for r in a]
    lb = [np.log(np.mean([np.mean(s["fork_ns"]) for s in r["samples"] if s["arm"] == "unnamed"])) for r in b]
    lo, hi = stats.ttest_ind(lb, la, equal_var=True).confidence_interval(0.95)
    assert (row.effect.ci_low_pct, row.effect.ci_high_pct) == pytest.approx((np.expm1(lo) * 100, np.expm1(hi) * 100))
    rows = [r for p in cmp.pairs for r in p.rows]
    assert "a two-sample t interval (pooled variance) on the log run means, 3 runs a side" in describe_method(
        rows, cmp.options)
    assert method_line(rows, cmp.options) == "95% CI: two-sample t on log means of 3 runs a side; margin ±1%"
    html = render_compare_html(cmp, a[0], b[0], {k: "x" for k in ("a_results", "b_results", "a_report", "b_report")})
    assert "BCa" not in html and "pooled variance" in html


def test_the_spread_is_next_to_every_mean():
    d = quick_start_like()
    a = analyze(d)
    r = a.rows()[0]
    row = text_rows(run_output(d, a, "text"))["unpopulated"]
    sd = fmt_spread(r.base.stdev).removesuffix("ms")  # three significant digits, as every spread
    assert f"{r.base.mean:.2f}±{sd}ms" in row  # two significant digits, never 0.00
    assert f"| {r.base.mean:.2f}±{sd}ms |" in run_output(d, a, "markdown")
    assert f"{r.base.mean:.2f} ± {sd}</td>" in render_html(d, a)
    assert json.loads(run_output(d, a, "json"))["targets"][0]["rows"][0]["unnamed"]["stdev"] == r.base.stdev
    assert float(next(csv.DictReader(io.StringIO(run_output(d, a, "csv"))))["unnamed_stdev_ms"]) == pytest.approx(
        r.base.stdev)
    cmp_text = compare_output(compare(d, quick_start_like(seed=4)), "text")
    assert "±" in next(ln for ln in cmp_text.splitlines() if ln.startswith("unpopulated  unnamed"))


def test_no_spread_is_an_exact_difference_not_a_failure():
    """A fully deterministic guest: every batch the same. Before: "no verdict: no confidence
    interval (no spread between the batches)", where 1 ns of jitter gave p = 4e-55."""
    d = make_results(shifts={"unpopulated": 0.01}, scenarios=(("unpopulated", 0, 16.0),), per_batch=3, seed=2)
    for s in d["samples"]:
        s["fork_ns"] = [16_000_000 if s["arm"] == "unnamed" else 16_080_000] * len(s["fork_ns"])
    [row] = analyze(d).rows()
    assert row.effect.exact and row.effect.ci_low_pct == row.effect.ci_high_pct == pytest.approx(0.5)
    assert row.p_holm == 0.0 and row.verdict.label == "slower, within ±1%"
    jitter = json.loads(json.dumps(d))
    jitter["samples"][0]["fork_ns"][0] += 1
    [near] = analyze(jitter).rows()
    assert near.verdict.label == row.verdict.label and near.effect.change_pct == pytest.approx(0.5, abs=1e-4)
    assert "Identical ratios in every unit (no spread) make an exact CI" in describe_method([row], Options())
    for s in d["samples"]:  # an A/A on the same machine: identical, the difference exactly 0
        s["fork_ns"] = [16_000_000] * len(s["fork_ns"])
    [same] = analyze(d).rows()
    assert same.verdict.label == "no difference" and same.p_holm == 1.0 and same.effect.change_pct == 0.0


def test_a_spread_is_written_out_to_three_significant_digits():
    """Never "0.00ms", never an exponent a reader has to decode next to a mean in ms."""
    assert [fmt_spread(v) for v in (0.00374, 0.0334, 0.119, 0.1003, 5.0, 1.2e-5, 1234.5, 0.0, None)] == [
        "0.00374ms", "0.0334ms", "0.119ms", "0.100ms", "5.00ms", "0.0000120ms", "1230ms", "0ms", "-"]
