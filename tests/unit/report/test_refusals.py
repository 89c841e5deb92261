"""A kernel without CONFIG_ANON_VMA_NAME: what the reader of the table, the report and the
FAILED line is told (issue 26, item 6), on simulated results shaped as such a run records them."""

from __future__ import annotations

import csv
import io
import json

from devbench.analysis import analyze
from devbench.device.fit import NO_ANON_VMA_NAME
from devbench.report.html import render_html
from devbench.report.outputs import run_output
from devbench.report.table import render_text
from devbench.results.errors import causes, failure_text
from tests.simdata import make_results

SCENARIOS = ("unpopulated", "1 page", "10 pages")


def refused_run() -> dict:
    """The unnamed arm measured, the named one refused in every scenario (as plan_target records it)."""
    d = make_results(batches=5, per_batch=20)
    d["samples"] = [s for s in d["samples"] if s["arm"] == "unnamed"]
    d["errors"] = [{"target": "phone", "scenario": sc, "arm": "named", "kind": "kernel-lacks-anon-vma-name",
                    "message": NO_ANON_VMA_NAME, "kernel_config": "ANON_VMA_NAME not set"} for sc in SCENARIOS]
    return d


def test_the_table_says_refused_and_why_and_the_refusal_once():
    text = render_text(refused_run())
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(SCENARIOS)]
    # 80 columns: each row's verdict on the line under it
    assert len(at) == 3 and all(lines[i + 1].strip() == "verdict: refused: no CONFIG_ANON_VMA_NAME" for i in at)
    assert "not measured" not in text
    joined = " ".join(line.strip() for line in lines)  # the notes are wrapped at 80 columns
    assert joined.count(NO_ANON_VMA_NAME) == 1
    assert ("! kernel-lacks-anon-vma-name (unpopulated, 1 page, 10 pages/named): the kernel's config has no "
            "CONFIG_ANON_VMA_NAME: the named arm cannot run (the unnamed arm does)") in joined


def test_every_format_says_refused():
    d = refused_run()
    analysis = analyze(d)
    assert "| refused: no CONFIG_ANON_VMA_NAME |" in run_output(d, analysis, "markdown")
    summary = json.loads(run_output(d, analysis, "json"))
    assert [r["verdict"] for r in summary["targets"][0]["rows"]] == ["refused: no CONFIG_ANON_VMA_NAME"] * 3
    lines = list(csv.DictReader(io.StringIO(run_output(d, analysis, "csv"))))
    assert [r["verdict"] for r in lines] == ["refused: no CONFIG_ANON_VMA_NAME"] * 3
    html = render_html(d)
    assert html.count("refused: no CONFIG_ANON_VMA_NAME") >= 3
    assert html.count(NO_ANON_VMA_NAME.replace("'", "&#39;")) == 1  # the refusal once, its scenarios listed
    assert '<p class="err">kernel-lacks-anon-vma-name (unpopulated, 1 page, 10 pages, named):' in html


def test_an_arm_missing_without_a_refusal_is_still_not_measured():
    d = refused_run()
    d["errors"] = []
    assert all(r.verdict.label == "not measured" for r in analyze(d).rows())


def test_the_failed_line_names_every_scenario_and_the_cause():
    d = refused_run()
    assert failure_text(d["errors"], "phone") == (
        "the named arm of unpopulated, 1 page, 10 pages: the kernel's config has no CONFIG_ANON_VMA_NAME: "
        "the named arm cannot run (the unnamed arm does)")
    d["errors"].append({"target": "phone", "scenario": None, "arm": None, "kind": "device-error", "message": "gone"})
    d["errors"].append({"target": "phone", "scenario": None, "arm": None, "kind": "interrupted",
                        "message": "interrupted during measure", "resumed": True})
    assert failure_text(d["errors"], "phone").endswith("(the unnamed arm does); gone")
    assert [c.line() for c in causes(d["errors"], "other")] == []
