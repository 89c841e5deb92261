"""Each target's differential profile beside its table: text and markdown (under the table,
80 columns), the JSON summary (per target) and report.html (under the table, with its pooled
differential flame graph); scenarios pooled per arm, a one-arm scenario kept out; a run comparing
kernels: each kernel's own in its section."""

import json
import re
from collections import Counter

from devbench.analysis import analyze
from devbench.report.differential import target_differential
from devbench.report.html import render_html
from devbench.report.outputs import run_output
from devbench.report.table import render_text
from tests.simdata import ICOUNT_INFO, make_kernels_results, make_results

SCENARIOS = (("unpopulated", 0, 16.0), ("1 page", 1, 20.0))
BASE = {"forkbench;fork;copy_process;vm_area_dup": 300, "forkbench;exit;exit_mmap;kmem_cache_free": 100}
ADDED = {"forkbench;fork;copy_process;vm_area_dup_fork;strlen": 80,
         "forkbench;fork;copy_process;vm_area_dup_fork;anon_vma_name_alloc;__kmalloc_noprof": 40,
         "forkbench;exit;exit_mmap;anon_vma_name_free;kfree": 30}


def profile(target: str, scenario: str, arm: str, folded: dict, forks: int = 200) -> dict:
    return {"target": target, "scenario": scenario, "arm": arm, "tool": "perf", "event": "cpu-clock",
            "call_graph": "fp", "frequency": 20000, "forks": forks, "system_wide": True,
            "stats": {"samples": sum(folded.values()), "unknown_frames": 0, "unknown_by_file": {}},
            "payload_samples": sum(folded.values()), "fork_path_samples": sum(folded.values()), "folded": folded,
            "files": {}}


def run(icount: bool = True, added: dict | None = None) -> dict:
    d = make_results(batches=6, per_batch=20, scenarios=SCENARIOS, shifts={"unpopulated": 0.4, "1 page": 0.15})
    if icount:
        d["targets"][0]["transport_info"] = dict(ICOUNT_INFO)
    named = dict(Counter(BASE) + Counter(ADDED if added is None else added))
    d["profiles"] = [profile("phone", sc, arm, BASE if arm == "unnamed" else named)
                     for sc, _, _ in SCENARIOS for arm in ("unnamed", "named")]
    return d


def test_scenarios_are_pooled_per_arm_and_each_keeps_its_own():
    d = run()
    d["profiles"].append(profile("phone", "10 pages", "unnamed", BASE))  # its named arm refused: not pooled
    diff = target_differential(d, "phone")
    assert diff is not None and diff.pooled == ("unpopulated", "1 page")
    a = diff.attribution
    assert (a.status, a.unnamed_samples, a.named_samples) == ("attributed", 800, 1100)
    assert [g.function for g in a.growth] == ["strlen", "__kmalloc_noprof", "kfree"]
    assert diff.stacks["named"]["forkbench;fork;copy_process;vm_area_dup_fork;strlen"] == 160
    assert [(c.label, c.pooled, c.attribution.status) for c in diff.cases] == [
        ("unpopulated", True, "attributed"), ("1 page", True, "attributed"), ("10 pages", False, "one-arm")]
    assert diff.sampling == {"tool": "perf", "event": "cpu-clock", "frequency": 20000, "clock": "icount",
                             "note": diff.sampling["note"]}
    assert "one sample every 50,000 guest instructions" in diff.sampling["note"]
    assert target_differential(d, "elsewhere") is None


def test_a_sweep_names_each_case_by_its_count_and_a_target_without_both_arms_says_so():
    d = run()
    for p, vmas in zip(d["profiles"], (1024, 1024, 4096, 4096), strict=True):
        p["vmas"] = vmas
    diff = target_differential(d, "phone")
    assert diff is not None and diff.pooled == ("unpopulated @ 1024 VMAs", "1 page @ 4096 VMAs")
    assert [c.to_json()["vmas"] for c in diff.cases] == [1024, 4096]
    d["profiles"] = [p for p in d["profiles"] if p["arm"] == "named"]
    only = target_differential(d, "phone")
    assert only is not None and only.attribution.status == "one-arm" and only.attribution.named_samples == 1100
    d["profiles"] = [d["profiles"][0], profile("phone", "1 page", "unnamed", BASE, forks=10)]
    assert target_differential(d, "phone").attribution.sentence.endswith("no scenario has both arms profiled.")


def test_text_block_under_the_table_fits_80_columns():
    d = run()
    text = render_text(d, analysis=analyze(d))
    lines = text.splitlines()
    assert all(len(ln) <= 80 for ln in lines), [ln for ln in lines if len(ln) > 80]
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Differential profile, named − unnamed"))
    assert start > next(i for i, ln in enumerate(lines) if ln.startswith("scenario "))  # under the table
    block = "\n".join(lines[start:])
    assert " ".join(lines[start:start + 2]) == ("Differential profile, named − unnamed (2 scenarios pooled; self "
                                                 "shares of 800 unnamed and 1100 named samples on the fork and exit "
                                                 "paths):")
    assert re.search(r"^function +unnamed → named +points +z +called from$", block, re.M)
    assert re.search(r"^strlen +0\.00% → 14\.55% +\+14\.55 +\+\d+\.\d +vm_area_dup_fork$", block, re.M)
    said = " ".join(ln.strip() for ln in lines[start:])
    assert ("- named − unnamed: the added samples are mostly in strlen (called from vm_area_dup_fork), "
            "__kmalloc_noprof (called from anon_vma_name_alloc) and kfree (called from anon_vma_name_free); these 3 "
            "gained 300 samples, the named arm 300 in all.") in said
    assert "- sampled with perf cpu-clock at 20000 Hz of the guest's clock, which under icount counts instructions" \
        in said


def test_markdown_block_and_no_block_without_profiles():
    d = run(icount=False)
    md = render_text(d, markdown=True, analysis=analyze(d))
    assert "| function | unnamed → named | points | z | called from |" in md
    assert re.search(r"^\| kfree \| 0\.00% → 5\.45% \| \+5\.45 \| \+\d+\.\d \| anon_vma_name_free \|$", md, re.M)
    assert "- named − unnamed: the added samples are mostly in strlen" in md
    assert "- sampled with perf cpu-clock at 20000 Hz." in md
    del d["profiles"]
    assert "Differential profile" not in render_text(d, analysis=analyze(d))


def test_a_profile_that_cannot_attribute_is_said_plainly_in_every_output():
    d = run(added={"forkbench;fork;copy_process;vm_area_dup": 4})
    text = render_text(d, analysis=analyze(d))
    said = " ".join(ln.strip() for ln in text.splitlines())
    assert "function " not in text.split("Differential profile")[1]  # no table of nothing
    assert "no function's share grows beyond sampling noise (z ≥ 3 and 0.1 points; 800 unnamed, 808 named " \
           "samples): this profile cannot attribute the difference." in said
    summary = json.loads(run_output(d, analyze(d), "json"))
    dp = summary["targets"][0]["differential_profile"]
    assert (dp["status"], dp["growth"], dp["largest_below_noise"]["function"]) == ("no-growth", [], "vm_area_dup")
    assert "cannot attribute" in render_html(d)


def test_json_summary_has_it_per_target():
    d = run()
    summary = json.loads(run_output(d, analyze(d), "json"))
    [t] = summary["targets"]
    dp = t["differential_profile"]
    assert dp["status"] == "attributed" and dp["scenarios_pooled"] == ["unpopulated", "1 page"]
    assert dp["samples"] == {"unnamed": 800, "named": 1100} and dp["added_samples"] == 300
    assert dp["sampling"]["clock"] == "icount" and "not of a phone's time" in dp["sampling"]["note"]
    assert [g["function"] for g in dp["growth"]] == ["strlen", "__kmalloc_noprof", "kfree"]
    assert set(dp["growth"][0]) == {"function", "unnamed_samples", "named_samples", "unnamed_pct", "named_pct",
                                    "points", "z", "called_from"}
    assert [(s["scenario"], s["pooled"], s["status"]) for s in dp["by_scenario"]] == [
        ("unpopulated", True, "attributed"), ("1 page", True, "attributed")]
    assert dp["sentence"].startswith("named − unnamed: the added samples are mostly in strlen")


def test_html_puts_it_under_the_targets_table_with_its_flame_graph():
    d = run()
    html = render_html(d)
    section = html[html.index('<section id="target-t0">'):]
    table_end, diff = section.index("</table>"), section.index("Differential profile, named − unnamed</h3>")
    assert table_end < diff < section.index("<h3>Profile: unpopulated</h3>")
    block = section[diff:section.index("<h3>Profile: unpopulated</h3>")]
    assert "the added samples are mostly in strlen (called from vm_area_dup_fork)" in block
    assert "<td>strlen</td><td>0.00% (0)</td>" in block and "<svg" in block
    assert "phone: named vs unnamed (unpopulated, 1 page)" in block  # the pooled differential flame graph
    assert "one sample every 50,000 guest instructions" in block
    # each scenario's profile has its own sentence when there are several
    assert section.count("the added samples are mostly in strlen") == 3


def test_hostile_function_names_are_escaped():
    evil = {"forkbench;fork;<script>alert(1)</script>": 150, "forkbench;fork;a|b\x1b[2J": 150}
    d = run(added=evil)
    html = render_html(d)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = render_text(d, analysis=analyze(d))
    assert "\x1b" not in text and "a|b\\x1b[2J" in text
    md = render_text(d, markdown=True, analysis=analyze(d))
    assert "| a\\|b\\x1b[2J |" in md


def test_a_run_comparing_kernels_has_each_kernels_own_under_its_table():
    d = make_kernels_results(shifts={"strdup": {"named": 0.47, "unnamed": 0.001}}, seed=5, boot_sd=0.0005,
                             scenarios=(("unpopulated", 0, 14.41),))
    refcount = dict(Counter(BASE) + Counter({"forkbench;exit;exit_mmap;remove_vma;__vm_area_free": 50}))
    strdup = dict(Counter(BASE) + Counter(ADDED))
    d["profiles"] = [profile(f"kut-{k}", "unpopulated", arm, BASE if arm == "unnamed" else named)
                     for k, named in (("refcount", refcount), ("strdup", strdup)) for arm in ("unnamed", "named")]
    analysis = analyze(d)
    lines = render_text(d, analysis=analysis).splitlines()
    assert all(len(ln) <= 80 for ln in lines), max(lines, key=len)
    heads = [lines.index("kut-refcount (kernel refcount, x86_64, boots 1, 4)"),
             lines.index("kut-strdup (kernel strdup, x86_64, boots 2, 3)"),
             lines.index("kut (x86_64): kernel strdup against kernel refcount")]
    blocks = [i for i, ln in enumerate(lines) if ln.startswith("Differential profile, named − unnamed")]
    assert heads[0] < blocks[0] < heads[1] < blocks[1] < heads[2]  # each in its kernel's section
    said = [" ".join(ln.strip() for ln in lines[a:b]) for a, b in zip(blocks, heads[1:], strict=True)]
    assert "mostly in __vm_area_free (called from remove_vma)" in said[0] and "strlen" not in said[0]
    assert "mostly in strlen (called from vm_area_dup_fork)" in said[1]
    summary = json.loads(run_output(d, analysis, "json"))
    assert {t["name"]: t["differential_profile"]["growth"][0]["function"] for t in summary["targets"]} == {
        "kut-refcount": "__vm_area_free", "kut-strdup": "strlen"}
    html = render_html(d, analysis)
    assert html.count("Differential profile, named − unnamed</h3>") == 2
    assert html.index("kut-refcount: named vs unnamed (unpopulated)") < html.index("kut-strdup: named vs unnamed")
