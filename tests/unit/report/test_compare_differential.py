"""`devbench compare` of two runs on different kernels: each side's differential profile under
the pairing's table, headed by its run and kernel, in text, markdown, the JSON summary and
compare.html (devbench.report.differential.compare_profiles); none where no run profiled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from devbench.analysis import Options, compare
from devbench.cli import main
from devbench.cli.parser import EXIT_OK
from devbench.report.compare_html import render_compare_html
from devbench.report.outputs import compare_output
from tests.unit.report.test_differential_report import BASE, SCENARIOS, profile, run

STRDUP = {"forkbench;fork;copy_process;vm_area_dup_fork;strlen": 80,
          "forkbench;fork;copy_process;vm_area_dup_fork;anon_vma_name_alloc;__kmalloc_noprof": 40}
REFCOUNT = {"forkbench;fork;copy_process;vm_area_dup;refcount_inc": 60}
LINKS = {"a_results": "a/results.json", "b_results": "b/results.json", "a_report": "a/report.html",
         "b_report": "b/report.html"}


def kernel_run(kernel: str, added: dict | None) -> dict:
    d = run(icount=True)
    d["targets"][0]["facts"]["kernel_release"] = kernel
    if added is None:
        del d["profiles"]
    else:
        named = dict(Counter(BASE) + Counter(added))
        d["profiles"] = [profile("phone", sc, arm, BASE if arm == "unnamed" else named)
                         for sc, _, _ in SCENARIOS for arm in ("unnamed", "named")]
    return d


def sides(b_added: dict | None = STRDUP) -> tuple[dict, dict]:
    return kernel_run("6.12-refcount", REFCOUNT), kernel_run("6.12-strdup", b_added)


def test_text_and_markdown_show_each_kernels_profile_under_the_pairing():
    a, b = sides()
    cmp = compare([a], [b], Options())
    text = compare_output(cmp, "text", (a, b))
    assert all(len(ln) <= 80 for ln in text.splitlines()), [ln for ln in text.splitlines() if len(ln) > 80]
    joined = " ".join(ln.strip() for ln in text.splitlines())
    ia = joined.index("Run A, phone (kernel 6.12-refcount): Differential profile, named − unnamed")
    ib = joined.index("Run B, phone (kernel 6.12-strdup): Differential profile, named − unnamed")
    assert joined.index("unpopulated") < ia < ib  # under the table, A then B
    assert "mostly in refcount_inc" in joined[ia:ib] and "strlen" not in joined[ia:ib]
    assert "mostly in strlen" in joined[ib:]
    md = compare_output(cmp, "markdown", (a, b))
    assert "Run B, phone (kernel 6.12-strdup): Differential profile" in md and "| strlen |" in md
    assert "Differential profile" not in compare_output(cmp, "text")  # without the runs' data: no block


def test_json_pairs_carry_both_sides_profiles_and_a_side_without_profiles_is_left_out():
    a, b = sides()
    [pair] = json.loads(compare_output(compare([a], [b], Options()), "json", (a, b)))["pairs"]
    got = [(p["side"], p["kernel"], p["status"], [g["function"] for g in p["growth"]])
           for p in pair["differential_profiles"]]
    assert got == [("a", "6.12-refcount", "attributed", ["refcount_inc"]),
                   ("b", "6.12-strdup", "attributed", ["strlen", "__kmalloc_noprof"])]
    a, b = sides(b_added=None)
    [pair] = json.loads(compare_output(compare([a], [b], Options()), "json", (a, b)))["pairs"]
    assert [p["side"] for p in pair["differential_profiles"]] == ["a"]


def test_compare_html_has_a_section_per_side_with_its_flame_graph():
    a, b = sides()
    page = render_compare_html(compare([a], [b], Options()), a, b, LINKS)
    assert 'id="p0-a-differential">Run A, phone (kernel 6.12-refcount): differential profile, named − unnamed' in page
    assert 'id="p0-b-differential">Run B, phone (kernel 6.12-strdup): differential profile, named − unnamed' in page
    b_part = page.split('id="p0-b-differential"')[1]
    assert "<td>strlen</td>" in b_part and page.count("Differential flame graph") == 2
    a2, b2 = sides(b_added=None)
    a2.pop("profiles")
    assert "differential profile" not in render_compare_html(compare([a2], [b2], Options()), a2, b2, LINKS)


def test_the_compare_command_prints_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for name, data in zip("ab", sides(), strict=True):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(data))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Run A, phone (kernel 6.12-refcount): Differential" in out and "mostly in strlen" in out
    assert "Run B, phone (kernel 6.12-strdup)" in (tmp_path / "b" / "compare.html").read_text()
