"""A run that compared a target's kernels, in every output (devbench.report.kernels): the seed's
table per kernel, the kernels table (kernel B against kernel A, the boot as the unit) and each
boot's means; every row says its kernel and architecture (text headings, JSON and CSV fields)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from devbench.analysis import analyze, gate
from devbench.report.html import render_html
from devbench.report.outputs import run_output
from devbench.report.table import render_text
from tests.simdata import make_kernels_results

ONE = (("unpopulated", 0, 14.41),)


@pytest.fixture
def data():
    d = make_kernels_results(shifts={"strdup": {"named": 0.47, "unnamed": 0.001}}, seed=5, boot_sd=0.0005,
                             scenarios=ONE + (("1 page", 1, 36.0),))
    for t in d["targets"]:
        t["warnings"] = ["QEMU guest with instruction counting (clock: icount): a time is the instruction-path cost"]
    return d


def test_text_has_each_kernels_table_then_the_kernels_table(data):
    text = render_text(data)
    lines = text.splitlines()
    # kernels named strdup and refcount: the seed's two tables first (tests/unit/report/test_letter.py)
    assert lines[0] == "The seed's cover letter beside this run"
    assert lines.index("kut-refcount (kernel refcount, x86_64, boots 1, 4)") > lines.index(
        "After the third patch (names refcounted, shared on fork)")
    assert "kut-strdup (kernel strdup, x86_64, boots 2, 3)" in lines
    k = lines.index("kut (x86_64): kernel strdup against kernel refcount")
    assert k > lines.index("kut-strdup (kernel strdup, x86_64, boots 2, 3)")  # after both kernels' tables
    # each mean ± its sd: the CI, p (Holm) and verdict on the line under each row, at 80 columns
    assert lines[k + 2].split() == ["scenario", "arm", "refcount", "strdup", "CHANGE"]
    i = next(n for n, ln in enumerate(lines) if n > k and ln.startswith("unpopulated  named"))
    assert re.search(r"\+4[67]\.\d\d%", lines[i]) and "p (Holm): <0.001; verdict: slower" in lines[i + 1]
    assert "  95% CI: two-sample t on log means of 2 boots a kernel; margin ±1%; ± is the sd" in lines[k:]
    assert "boots: refcount 1, 4; strdup 2, 3" in text and "The boot is the" in text
    boots = lines.index("each boot's mean fork time (#: the boot's place in time):")
    assert lines[boots + 2].split() == ["scenario", "arm", "refcount", "#1", "refcount", "#4", "strdup", "#2",
                                        "strdup", "#3"]
    assert "instruction-path costs under QEMU's instruction counting" in text
    assert all(len(ln) <= 80 for ln in lines), max(lines, key=len)


def test_markdown_has_the_kernels_table(data):
    md = render_text(data, markdown=True)
    assert "### kut (x86_64): kernel strdup against kernel refcount" in md
    assert "| scenario | arm | refcount | strdup | CHANGE | 95% CI | p (Holm) | verdict |" in md
    assert re.search(r"\| unpopulated \| named \| \d+\.\d\d±[\d.]+ms \| \d+\.\d\d±[\d.]+ms \| \+4[67]\.\d\d% \|", md)


def test_json_rows_say_kernel_and_arch_and_the_kernels_entry_has_the_pair(data):
    out = json.loads(run_output(data, analyze(data), "json"))
    rows = [r for t in out["targets"] for r in t["rows"]] + [r for k in out["kernels"] for r in k["rows"]]
    assert rows and all(r["kernel"] in ("refcount", "strdup") and r["arch"] == "x86_64" for r in rows)
    [k] = out["kernels"]
    assert (k["target"], k["arch"], k["kernel"], k["against"]) == ("kut", "x86_64", "strdup", "refcount")
    assert k["boots"] == {"refcount": [1, 4], "strdup": [2, 3]} and k["targets"] == ["kut-refcount", "kut-strdup"]
    assert [(r["scenario"], r["arm"], r["against"]) for r in k["rows"]] == [
        ("unpopulated", "unnamed", "refcount"), ("unpopulated", "named", "refcount"),
        ("1 page", "unnamed", "refcount"), ("1 page", "named", "refcount")]
    named = k["rows"][1]
    assert named["a"]["n"] == named["b"]["n"] == 400 and named["verdict"] == "slower"
    assert named["effect"]["unit"] == "boot" and named["effect"]["units"] == 2
    assert [len(m["a"]) for m in k["boot_means"]] == [2, 2, 2, 2]


def test_csv_lines_of_the_kernels_table_follow_the_kernels_own(data):
    rows = list(csv.DictReader(io.StringIO(run_output(data, analyze(data), "csv"))))
    assert [(r["target"], r["kernel"], r["against"], r["arm"]) for r in rows] == [
        ("kut-refcount", "refcount", "", ""), ("kut-refcount", "refcount", "", ""),
        ("kut-strdup", "strdup", "", ""), ("kut-strdup", "strdup", "", ""),
        ("kut", "strdup", "refcount", "unnamed"), ("kut", "strdup", "refcount", "named"),
        ("kut", "strdup", "refcount", "unnamed"), ("kut", "strdup", "refcount", "named")]
    assert all(r["arch"] == "x86_64" for r in rows)
    seed, kern = rows[2], rows[5]
    assert seed["unnamed_mean_ms"] and not seed["a_mean_ms"] and float(seed["change_pct"]) > 40
    assert kern["a_mean_ms"] and kern["b_mean_ms"] and not kern["unnamed_mean_ms"] and kern["unit"] == "boot"
    assert kern["warnings"].startswith("QEMU guest with instruction counting")  # the kernels' warnings, once
    assert " | " not in kern["warnings"]


def test_html_has_the_kernels_section_first_with_each_boot(data):
    html = render_html(data)
    assert html.index('id="kernels-0"') < html.index('id="target-t0"') < html.index('id="target-t1"')
    assert "kut (x86_64): kernel strdup against kernel refcount" in html
    assert "mean fork instruction time (icount), kernel refcount (ms)" in html
    for col in ("refcount #1", "refcount #4", "strdup #2", "strdup #3"):
        assert f"<th>{col}</th>" in html
    assert "kut-strdup (kernel strdup, x86_64, boots 2, 3)" in html
    assert re.search(r"On kut \(x86_64\), kernel strdup&#39;s fork\(\) against kernel refcount&#39;s is slower in "
                     r"unpopulated \(named\)", html)


def test_kernel_names_from_a_results_file_are_escaped(data):
    for t in data["targets"]:
        t["kernel"] = t["kernel"] + "<script>"
    html = render_html(data)
    assert "<script>" not in html.replace("<script>window", "") and "strdup&lt;script&gt;" in html


def test_the_gate_names_a_kernel_regression(data):
    lines = gate(analyze(data), 2.0)
    assert "kut (x86_64): kernel strdup against refcount / unpopulated (named): regression +4" in "\n".join(lines)
    assert any(ln.startswith("kut-strdup / unpopulated: regression +48") for ln in lines)
    out = json.loads(run_output(data, analyze(data), "json", fail_on_regression=2.0))
    assert {"target": "kut", "kernel": "strdup", "arch": "x86_64", "vmas": 65536, "scenario": "1 page",
            "arm": "named", "against": "refcount", "metric": "fork"} in out["gate"]["failing"]
    assert not any(r.get("arm") == "unnamed" for r in out["gate"]["failing"])


def test_compare_output_names_the_kernels_of_each_side():
    from devbench.analysis import compare
    from devbench.report.outputs import compare_output
    from tests.unit.analysis.test_kernels import _one_kernel_run

    cmp = compare(_one_kernel_run(1, "refcount"), _one_kernel_run(2, "strdup", named=0.47))
    text = compare_output(cmp, "text")
    assert "kut (x86_64): kernel strdup (B) against kernel refcount (A)" in text
    js = json.loads(compare_output(cmp, "json"))
    [p] = js["pairs"]
    assert (p["kernel_a"], p["kernel_b"], p["arch"]) == ("refcount", "strdup", "x86_64")
    assert all((r["kernel"], r["against"], r["arch"]) == ("strdup", "refcount", "x86_64") for r in p["rows"])
    rows = list(csv.DictReader(io.StringIO(compare_output(cmp, "csv"))))
    assert {(r["kernel"], r["against"], r["arch"]) for r in rows} == {("strdup", "refcount", "x86_64")}


def test_the_childs_exit_is_compared_across_kernels_in_text_json_and_html():
    """The gate tests the kernels' exit rows with --gate-exit: every output shows them."""
    d = make_kernels_results(shifts={"strdup": {"named": 0.30}}, seed=7, boot_sd=0.0005, scenarios=ONE,
                             with_exit=True)
    text = render_text(d)
    lines = text.splitlines()
    k = lines.index("the child's exit (exit_ns), kernel strdup against kernel refcount:")
    assert k > lines.index("kut (x86_64): kernel strdup against kernel refcount")
    assert lines[k + 2].split()[:5] == ["scenario", "arm", "refcount", "strdup", "CHANGE"]
    named = next(ln for ln in lines[k:] if ln.startswith("unpopulated  named"))
    assert re.search(r"\+[23]\d\.\d\d%", named), named  # the exit follows the fork's shift in the simulation
    assert all(len(ln) <= 80 for ln in lines), max(lines, key=len)
    [pair] = json.loads(run_output(d, analyze(d), "json"))["kernels"]
    assert [(r["scenario"], r["arm"], r["kernel"]) for r in pair["exit_rows"]] == [
        ("unpopulated", "unnamed", "strdup"), ("unpopulated", "named", "strdup")]
    page = render_html(d)
    assert ("<h3>The child&#39;s exit (exit_ns, release to waitpid return), kernel strdup against kernel "
            "refcount") in page
    without = make_kernels_results(seed=7, scenarios=ONE)
    assert "the child's exit (exit_ns)" not in render_text(without)
    assert json.loads(run_output(without, analyze(without), "json"))["kernels"][0]["exit_rows"] == []
