"""A VMA-count sweep in every output: rows per count, the added time per fork in µs and % against
the count (table, SVG plots on a log scale), and the sentence at 4096 VMAs; one count as before."""

import csv
import io
import json
import re

from devbench.analysis import analyze
from devbench.analysis.sweep import CROSSES, WITHIN, Finding, SweepPoint
from devbench.report.html import render_html
from devbench.report.outputs import run_output
from devbench.report.sweep import sentence
from devbench.report.sweep_plot import sweep_figure
from devbench.report.table import render_text
from tests.simdata import ICOUNT_INFO, make_results, make_sweep

SHIFTS = {"unpopulated": 0.03, "1 page": 0.0, "10 pages": 0.005}
COUNTS = (1024, 4096, 16384)


def sweep(icount: bool = True, counts=COUNTS):
    d = make_sweep(counts, shifts=SHIFTS, batch_sd=0.001, sigma=0.005)
    if icount:
        d["targets"][0]["transport_info"] = dict(ICOUNT_INFO)
    return d


def test_text_has_a_count_column_the_sweep_table_and_the_sentence():
    d = sweep()
    text = render_text(d, analysis=analyze(d))
    lines = text.splitlines()
    assert lines[2].split()[:2] == ["scenario", "VMAs"]
    assert re.search(r"^unpopulated +1024 +\d+\.\d\d±[\d.]+ms", text, re.M)  # each mean ± its sd
    assert re.search(r"^10 pages +16384 ", text, re.M)
    assert all(len(ln) <= 80 for ln in lines), [ln for ln in lines if len(ln) > 80]
    i = next(n for n, ln in enumerate(lines)
             if ln.split() == ["scenario", "VMAs", "added/fork", "95%", "CI", "(µs)", "REGRESSION", "95%", "CI"])
    assert "against the VMA count, the instruction-path cost under icount" in " ".join(lines[i - 4:i])
    assert re.fullmatch(r"unpopulated   4096 +\+\d+\.\d\dµs +\[\+\d+\.\d\d, \+\d+\.\d\d\] +\+\d\.\d\d% +\[.*\]",
                        lines[i + 2])
    said = " ".join(ln.strip() for ln in lines[lines.index(next(ln for ln in lines if "- At 4096 VMAs" in ln)):])
    assert said.startswith("- At 4096 VMAs (about what Android processes really reach, where the seed's cover letter "
                           "calls the regression “at the noise level”): unpopulated +")
    assert re.search(r"unpopulated \+\d+\.\d\dµs/fork \(\+\d\.\d\d%\), CI \[\+\d\.\d\d%, \+\d\.\d\d%\]: above the "
                     r"±1% margin; 1 page [+-]\d+\.\d+µs/fork \([+-]\d\.\d\d%\), CI .*: below the ±1% margin", said)
    assert "devbench's numbers do not agree in unpopulated: the regression is above ±1% there" in said
    assert "Times are the instruction-path cost under icount (1 ns per guest instruction)" in said


def test_markdown_and_a_wall_clock_sweep():
    d = sweep(icount=False)
    md = render_text(d, markdown=True, analysis=analyze(d))
    assert "| scenario | VMAs | unnamed VMAs |" in md and "| scenario | VMAs | added/fork | 95% CI (µs) |" in md
    assert re.search(r"^\| 1 page \| 4096 \| [+-]\d", md, re.M)
    assert "- At 4096 VMAs (" in md and "icount" not in md


def test_a_sweep_without_4096_speaks_of_its_nearest_count():
    d = sweep(counts=(256, 1024))
    text = render_text(d, analysis=analyze(d))
    flat = " ".join(ln.strip() for ln in text.splitlines())
    assert ("At 1024 VMAs, this sweep's count nearest 4096 (about what Android processes really reach, where the "
            "seed's cover letter calls the regression “at the noise level”; 4096 was not measured): "
            "unpopulated +") in flat


def _finding(scenario, ci, standing, vmas=4096):
    return Finding("t", scenario, SweepPoint(vmas, 1.0, sum(ci) / 2, ci, sum(ci) * 5, (ci[0] * 10, ci[1] * 10), "x",
                                             "no difference"), vmas == 4096, standing, 1.0)


def test_the_sentence_fixed_numbers():
    s = sentence([_finding("unpopulated", (0.12, 0.48), WITHIN), _finding("1 page", (0.5, 1.3), CROSSES)], "real")
    assert s == ("At 4096 VMAs (about what Android processes really reach, where the seed's cover letter calls the "
                 "regression “at the noise level”): unpopulated +3.00µs/fork (+0.30%), CI [+0.12%, +0.48%]: below the "
                 "±1% margin; 1 page +9.00µs/fork (+0.90%), CI [+0.50%, +1.30%]: the CI crosses the ±1% margin. "
                 "devbench cannot tell yet in 1 page (more batches would decide).")
    agree = sentence([_finding("unpopulated", (0.12, 0.48), WITHIN)], "icount")
    assert "devbench's numbers agree: the regression is within ±1% in every scenario." in agree
    assert agree.endswith("Times are the instruction-path cost under icount (1 ns per guest instruction), "
                          "not a device's timing.")
    mixed = sentence([_finding("a", (0.1, 0.2), WITHIN, 1024), _finding("b", (0.1, 0.2), WITHIN, 16384)])
    assert mixed.startswith("Nearest 4096 VMAs (") and "a at 1024 VMAs +1.50µs/fork" in mixed
    assert sentence([]) == ""


def test_csv_has_the_count_and_the_added_time_in_us():
    d = sweep()
    rows = list(csv.DictReader(io.StringIO(run_output(d, analyze(d), "csv"))))
    assert [(r["vmas"], r["scenario"]) for r in rows] == [(str(v), sc) for v in COUNTS
                                                        for sc in ("unpopulated", "1 page", "10 pages")]
    r = next(r for r in rows if (r["vmas"], r["scenario"]) == ("4096", "unpopulated"))
    assert abs(float(r["added_us"]) - float(r["change_pct"]) / 100 * float(r["unnamed_mean_ms"]) * 1000) < 1.0
    assert float(r["added_ci_low_us"]) < float(r["added_us"]) < float(r["added_ci_high_us"])


def test_json_rows_carry_the_count_and_the_target_its_sweep():
    d = sweep()
    out = json.loads(run_output(d, analyze(d), "json", fail_on_regression=2.0))
    t = out["targets"][0]
    assert [(r["vmas"], r["scenario"]) for r in t["rows"]][:2] == [(1024, "unpopulated"), (1024, "1 page")]
    sw = t["sweep"]
    assert sw["time"] == "instruction-path cost (icount)"
    assert [(s["scenario"], [p["vmas"] for p in s["points"]]) for s in sw["series"]][0] == ("unpopulated",
                                                                                          list(COUNTS))
    first = sw["series"][0]["points"][1]
    assert set(first) >= {"vmas", "added_us", "added_ci_us", "change_pct", "ci_pct", "verdict"}
    assert [(a["scenario"], a["vmas"], a["exact"], a["standing"]) for a in sw["at_4096"]] == [
        ("unpopulated", 4096, True, "above"), ("1 page", 4096, True, "within"), ("10 pages", 4096, True, "within")]
    assert sw["sentence"].startswith("At 4096 VMAs (")
    assert out["gate"]["failing"] and all("vmas" in f for f in out["gate"]["failing"])


def test_html_has_the_sweep_plots_table_and_sentence():
    d = sweep()
    html = render_html(d, analyze(d))
    assert html.count("<h3>VMA-count sweep</h3>") == 1
    assert html.count('class="headline finding"') == 1 and "At 4096 VMAs (" in html
    assert "<th>scenario</th><th>VMAs</th><th>mean fork instruction time (icount), unnamed VMAs (ms), ± sd</th>" in html
    plots = re.findall(r'<svg[^>]*aria-label="(Added instruction-path cost per fork \(icount\)|REGRESSION, named vs '
                       r'unnamed) against the VMA count \(log scale\)[^"]*"', html)
    assert len(plots) == 2
    assert "unpopulated @ 4096 VMAs" in html  # the distributions and statistics name the count


def test_the_sweep_figure_log_axis_ticks_and_4096_mark():
    d = sweep(icount=False, counts=(256, 1024, 4096, 65536))
    from devbench.analysis.sweep import series
    fig = sweep_figure(series(analyze(d).rows()), "us", "real")
    assert fig.startswith("<svg") and fig.count("<svg") == 1 and "<script" not in fig
    assert ">VMAs (log scale)</text>" in fig and ">µs per fork</text>" in fig and "4096 (seed: Android)" in fig
    ticks = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">(\d+)</text>', fig)
    xs = {label: float(x) for x, label in ticks}
    assert set(xs) == {"256", "1024", "4096", "65536"}
    # log scale: 256 -> 1024 and 1024 -> 4096 are equal steps, 4096 -> 65536 twice that
    a, b, c = xs["1024"] - xs["256"], xs["4096"] - xs["1024"], xs["65536"] - xs["4096"]
    assert abs(a - b) < 0.2 and abs(c - 2 * a) < 0.3
    icount = sweep_figure(series(analyze(sweep()).rows()), "us", "icount")
    assert ">µs per fork, icount</text>" in icount and "Added instruction-path cost per fork (icount)" in icount
    pct = sweep_figure(series(analyze(d).rows()), "pct", "real", 1.0)
    assert ">% of unnamed</text>" in pct and 'fill="#e4e4e4"' in pct  # the ±margin band


def test_one_count_reads_exactly_as_before():
    d = make_results(shifts=SHIFTS)
    d["run"]["config"]["benchmark"]["vmas"] = 65536
    tagged = {**d, "samples": [{**s, "vmas": 65536} for s in d["samples"]]}
    for fmt in ("text", "markdown"):
        assert run_output(d, analyze(d), fmt) == run_output(tagged, analyze(tagged), fmt)
    text = run_output(tagged, analyze(tagged), "text")
    assert "VMAs  unnamed" not in text and "added/fork" not in text and "At 4096" not in text
    assert "sweep" not in json.loads(run_output(tagged, analyze(tagged), "json"))["targets"][0]
    html = render_html(tagged, analyze(tagged))
    assert "VMA-count sweep" not in html and "<th>VMAs</th>" not in html


def test_compare_of_two_sweeps_pairs_rows_by_count():
    from devbench.analysis import compare
    from devbench.report.outputs import compare_output

    a = sweep(icount=False, counts=(256, 1024))
    b = make_sweep((256, 1024), shifts=SHIFTS, seed=9, batch_sd=0.001, sigma=0.005)
    cmp = compare(a, b)
    [pair] = cmp.pairs
    assert [(r.vmas, r.scenario, r.arm) for r in pair.rows] == [
        (v, sc, arm) for v in (256, 1024) for sc in ("unpopulated", "1 page", "10 pages")
        for arm in ("unnamed", "named")]
    text = compare_output(cmp, "text")
    assert any(ln.split()[:3] == ["scenario", "VMAs", "arm"] for ln in text.splitlines()), text
    assert re.search(r"^1 page +1024 +named ", text, re.M)
    rows = json.loads(compare_output(cmp, "json"))["pairs"][0]["rows"]
    assert {(r["vmas"], r["scenario"]) for r in rows} == {(v, sc) for v in (256, 1024)
                                                         for sc in ("unpopulated", "1 page", "10 pages")}
