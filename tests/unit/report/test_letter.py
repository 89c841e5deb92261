"""The seed's two tables beside a run's rows (devbench.report.letter): when the report opens with
them (report.seed_tables auto/true/false), which of devbench's rows stand beside each seed row
(per kernel and architecture, at 65536 VMAs or the run's largest count), the labels that say
what each number is, the ordering each architecture shows, in text, markdown, JSON and HTML."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devbench.analysis import analyze
from devbench.config import parse_text
from devbench.errors import ConfigError
from devbench.report import seed_letter
from devbench.report.html import render_html
from devbench.report.letter import build, setting, wanted
from devbench.report.outputs import run_output
from devbench.report.table import render_text
from tests.simdata import make_kernels_results, make_results

SCENARIOS = (("unpopulated", 0, 14.4), ("1 page", 1, 36.0), ("10 pages", 10, 52.0))


def letter_run(counts: tuple[int, ...] = (4096, 65536), kernels: tuple[str, ...] = ("refcount", "strdup"),
               strdup_named: float = 0.30) -> dict[str, Any]:
    """Two QEMU targets (arm64, x86_64), each comparing its kernels, a sweep of `counts`."""
    out: dict[str, Any] | None = None
    for i, arch in enumerate(("x86_64", "arm64")):
        for j, count in enumerate(counts):
            d = make_kernels_results(kernels=kernels, shifts={kernels[1]: {"named": strdup_named}}, seed=10 * i + j,
                                     target=arch, arch=arch, scenarios=SCENARIOS, boot_sd=0.0005, batches=5,
                                     per_batch=4)
            for s in d["samples"]:
                s["vmas"] = count
            if out is None:
                out = d
                continue
            out["samples"] += d["samples"]
            if j == 0:
                out["targets"] += d["targets"]
                out["run"]["config"]["targets"] += d["run"]["config"]["targets"]
    assert out is not None
    out["run"]["config"]["benchmark"]["vmas"] = list(counts)
    return out


def flat(text: str) -> str:
    """Text with its wrapping undone (words joined by single spaces)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return letter_run()


def test_the_seed_numbers_are_the_letters(data):
    # each REGRESSION as the letter prints it, and as its two times give it (to its rounding)
    for table in seed_letter.TABLES:
        for r in table.rows:
            assert abs((r.named_ms / r.unnamed_ms - 1) * 100 - r.regression_pct) < 0.02, r
    assert [r.regression_pct for r in seed_letter.STRDUP.rows] == [39.51, 15.31, 14.13]
    assert [r.regression_pct for r in seed_letter.REFCOUNT.rows] == [12.16, 6.52, 5.39]
    assert [(r.unnamed_ms, r.named_ms) for r in seed_letter.STRDUP.rows] == [(16.73, 23.34), (51.98, 59.94),
                                                                            (66.86, 76.31)]
    assert [(r.unnamed_ms, r.named_ms) for r in seed_letter.REFCOUNT.rows] == [(16.36, 18.35), (48.16, 51.30),
                                                                              (64.23, 67.69)]


def test_json_has_every_arch_and_kernel_beside_the_seed_at_65536(data):
    out = json.loads(run_output(data, analyze(data), "json"))
    letter = out["seed_letter"]
    assert [t["kernel"] for t in letter["tables"]] == ["strdup", "refcount"]
    assert letter["tables"][0]["attributed_to"] == "strlen() and strdup() calls"
    for table in letter["tables"]:
        assert [r["pages"] for r in table["rows"]] == [0, 1, 10]
        for r in table["rows"]:
            # arm64 (the seed's architecture) first, every row its kernel, arch, count and clock
            assert [(b["arch"], b["kernel"], b["vmas"], b["clock"]) for b in r["devbench"]] == [
                ("arm64", table["kernel"], 65536, "icount"), ("x86_64", table["kernel"], 65536, "icount")]
            # devbench's change is the estimate its CI is built on (issue 26), so it lies inside it
            assert all(b["ci_pct"][0] <= b["change_pct"] <= b["ci_pct"][1] for b in r["devbench"]), r["devbench"]
    un = letter["tables"][1]["rows"][0]["seed"]
    assert un == {"unnamed_ms": 16.36, "named_ms": 18.35, "regression_pct": 12.16}
    assert len(letter["ordering"]) == 6 and all(o["cis_apart"] for o in letter["ordering"])
    assert all(o["strdup_pct"] > 25 > 2 > o["refcount_pct"] for o in letter["ordering"])
    assert any("not a phone's timing" in line for line in letter["labels"])
    assert any("ARM64" in line and "2.4 GHz" in line and "wall time" in line for line in letter["labels"])
    # and every other row of the summary still says its kernel and architecture
    rows = [r for t in out["targets"] for r in t["rows"]] + [r for k in out["kernels"] for r in k["rows"]]
    assert rows and all(r["kernel"] in ("refcount", "strdup") and r["arch"] in ("arm64", "x86_64") for r in rows)


def test_text_opens_with_the_seed_tables_labelled(data):
    text = render_text(data)
    lines = text.splitlines()
    assert lines[0] == "The seed's cover letter beside this run"
    first = lines.index("With the first two patches (the name strdup'ed into every child VMA on fork)")
    second = lines.index("After the third patch (names refcounted, shared on fork)")
    assert lines[first + 2].split() == ["scenario", "source", "unnamed", "named", "REGRESSION", "95%", "CI"]
    assert lines[first + 3].split() == ["unpopulated", "seed", "phone", "16.73ms", "23.34ms", "+39.51%", "-"]
    assert re.match(r"^ +arm64 icount +\d+\.\d\dms +\d+\.\d\dms +\+\d\d\.\d\d% +\[", lines[first + 4])
    assert re.match(r"^ +x86_64 icount ", lines[first + 5])
    assert lines[second + 3].split() == ["unpopulated", "seed", "phone", "16.36ms", "18.35ms", "+12.16%", "-"]
    assert "refcount_inc_checked() (called from" in text and "strlen() and strdup() calls" in text
    assert "6 of 6 rows agree with their CIs apart" in flat(text)
    assert "not a phone's timing" in flat(text)
    # the kernels' own tables follow it
    assert lines.index("x86_64-refcount (kernel refcount, x86_64, boots 1, 4)") > second
    assert all(len(ln) <= 80 for ln in lines), max(lines, key=len)


def test_markdown_and_html_open_with_it(data):
    md = render_text(data, markdown=True)
    assert md.startswith("## The seed's cover letter beside this run\n")
    assert "| unpopulated | seed phone | 16.73ms | 23.34ms | +39.51% | - |" in md
    assert re.search(r"\|  \| arm64 icount \| \d+\.\d\dms \| \d+\.\d\dms \| \+\d+\.\d\d% \| \[", md)
    html = render_html(data)
    assert html.index('id="seed-letter"') < html.index('class="glance"') < html.index('id="kernels-0"')
    assert '<a href="#seed-letter">' in html and "16.73ms" in html and "refcount_inc_checked()" in html


def test_the_largest_count_stands_in_for_65536():
    d = letter_run(counts=(1024, 4096))
    letter = json.loads(run_output(d, analyze(d), "json"))["seed_letter"]
    assert {b["vmas"] for t in letter["tables"] for r in t["rows"] for b in r["devbench"]} == {4096}
    assert "at 4096 VMAs" in letter["labels"][1]


def test_settings_decide(data):
    assert setting(data) == "auto" and wanted(data)
    other = letter_run(counts=(4096,), kernels=("base", "mine"))
    assert not wanted(other) and "seed_letter" not in json.loads(run_output(other, analyze(other), "json"))
    assert not render_text(other).startswith("The seed's")
    off = {**data, "run": {**data["run"], "config": {**data["run"]["config"], "report": {"seed_tables": False}}}}
    assert not wanted(off) and "seed-letter" not in render_html(off)
    # true: a run with no such kernel shows the seed's numbers alone and says so
    plain = make_results(shifts={"named": 0.01}, batches=6, per_batch=5)
    plain["run"]["config"]["report"] = {"seed_tables": True}
    text = render_text(plain)
    assert text.startswith("The seed's cover letter beside this run")
    assert "no kernel of this run is named strdup" in text and "16.73ms" in text
    assert "no architecture of this run has both a strdup and a refcount kernel" in flat(text)
    # a results file's odd value counts as auto, never obeyed as anything else
    odd = {**plain, "run": {**plain["run"], "config": {**plain["run"]["config"], "report": {"seed_tables": "yes"}}}}
    assert setting(odd) == "auto" and not wanted(odd)


def test_an_overlap_or_a_reversed_order_is_said():
    d = letter_run(counts=(65536,), strdup_named=0.0)  # strdup as cheap as refcount: no ordering
    letter = build(d, analyze(d))
    assert letter is not None
    lines = [a.line() for a in letter.agreements]
    assert len(lines) == 6 and all(("the CIs overlap" in ln or "NOT larger" in ln) for ln in lines), lines


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("true", "true"), ("false", "false")])
def test_config_report_seed_tables(value, expected):
    cfg = parse_text(f"benchmark: {{scenarios: [{{name: a, pages: 0}}]}}\ntargets: [{{name: h, local: {{}}}}]\n"
                     f"report: {{seed_tables: {value}}}\n")
    assert cfg.report.seed_tables == expected


def test_config_report_bad_value_is_one_line():
    with pytest.raises(ConfigError) as err:
        parse_text("benchmark: {scenarios: [{name: a, pages: 0}]}\ntargets: [{name: h, local: {}}]\n"
                   "report: {seed_tables: yes please}\n", "c.yaml")
    assert str(err.value) == "c.yaml:3:23: report.seed_tables: must be auto, true or false, not a string 'yes please'"
    with pytest.raises(ConfigError) as err:
        parse_text("benchmark: {scenarios: [{name: a, pages: 0}]}\ntargets: [{name: h, local: {}}]\n"
                   "report: {seed_table: true}\n", "c.yaml")
    assert "report.seed_table: unknown key 'seed_table'; did you mean 'seed_tables'?" in str(err.value)


def test_each_kernels_differential_profile_stands_beside_the_letters_attribution():
    from tests.unit.report.test_differential_report import ADDED, BASE, profile

    d = letter_run(counts=(65536,))
    named = {k: BASE.get(k, 0) + ADDED.get(k, 0) for k in {*BASE, *ADDED}}
    d["profiles"] = [profile(f"{arch}-strdup", sc, arm, (BASE if arm == "unnamed" else named) | {}, forks=20)
                     for arch in ("x86_64", "arm64") for sc, _, _ in SCENARIOS for arm in ("unnamed", "named")]
    for p in d["profiles"]:
        p["vmas"] = 65536
    out = json.loads(run_output(d, analyze(d), "json"))["seed_letter"]
    strdup, refcount = out["tables"]
    assert [(a["arch"], a["status"]) for a in strdup["devbench_attributed"]] == [("arm64", "attributed"),
                                                                                ("x86_64", "attributed")]
    assert "strlen" in strdup["devbench_attributed"][0]["functions"]
    assert refcount["devbench_attributed"] == []  # not profiled: nothing said for it
    text = flat(render_text(d))
    assert ("seed: the regression attributed to strlen() and strdup() calls - devbench arm64: named − unnamed: "
            "the added samples are mostly in strlen") in text
    assert "devbench arm64: named − unnamed" in render_html(d)
