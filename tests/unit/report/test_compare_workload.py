"""compare refuses apples against oranges (issue 26, item 3) and names every run of each side
with its own means (item 4): the words a reader sees, on simulated runs shaped as real ones."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from pathlib import Path

import pytest

from devbench.analysis import compare
from devbench.analysis.workload import mismatches
from devbench.cli import main
from devbench.cli.parser import EXIT_OK, EXIT_USAGE
from devbench.report.compare_html import render_compare_html
from devbench.report.outputs import compare_output
from tests.simdata import make_results

SCENARIOS = (("unpopulated", 0, 16.0), ("1 page", 1, 22.0))
LINKS = {"a_results": "a/results.json", "b_results": "b/results.json", "a_report": "a/report.html",
         "b_report": "b/report.html"}


def real_run(seed: int, vmas: int = 4096, clock: str | None = None, payload_version: int = 3, abi: str = "x86_64",
             kernel: str = "6.12.118-devbench", scale: float = 1.0, scenarios=SCENARIOS) -> dict:
    """A simulated run with what a real one records of its workload: the config's VMAs and
    scenarios, the payload's start records, the target's facts, payload and transport info."""
    d = make_results(seed=seed, scenarios=scenarios, scale=scale, batches=5, per_batch=20, run_sd=0.01)
    d["run"]["config"]["benchmark"]["vmas"] = vmas
    t = d["targets"][0]
    t["facts"].update(abi=abi, machine=abi, kernel_release=kernel)
    t["payload"] = {"abi": abi, "compiler": "zig 0.17.1", "sha256": "2811df8d90d9ef00" + "0" * 48}
    if clock:
        t["transport"], t["transport_info"] = "qemu", {"arch": abi, "clock": clock, "kernel": "bzImage",
                                                       "kernel_config_source": "IKCONFIG", "boot_seconds": 30.0,
                                                       "boot_attempts": 1, "console_log": "console.log"}
    d["checks"] = [{"check": "start", "target": t["name"], "scenario": n, "vmas": vmas, "pages": p,
                    "payload_version": payload_version} for n, p, _ in scenarios]
    return d


def fields(a, b) -> list[str]:
    return [m.text() for m in mismatches([a], [b], [("phone", "phone")])]


def test_the_same_workload_on_another_kernel_is_no_mismatch():
    assert fields(real_run(1), real_run(2, kernel="6.18.44")) == []


def test_each_workload_field_is_named_with_both_values():
    a = real_run(1)
    assert fields(a, real_run(2, vmas=2048)) == ["VMAs: A 4096, B 2048"]
    assert fields(real_run(1, clock="icount"), real_run(2)) == [
        "clock: A icount (guest instructions, 1 ns each), B real (wall time)"]
    assert fields(a, real_run(2, payload_version=2)) == ["payload version: A 3, B 2"]
    assert fields(a, real_run(2, abi="arm64-v8a")) == ["arch: A x86_64, B arm64-v8a"]  # its payload differs too
    other = real_run(2)
    other["targets"][0]["payload"]["sha256"] = "2779af69715835d5" + "0" * 48
    assert fields(a, other) == ["payload sha256: A 2811df8d90d9, B 2779af697158"]
    assert fields(a, real_run(2, scenarios=(("unpopulated", 0, 16.0), ("1 page", 10, 22.0)))) == [
        "scenarios: A 1 page (1 pages); unpopulated (0 pages), B 1 page (10 pages); unpopulated (0 pages)",
        "pages of '1 page': A 1, B 10"]
    assert fields(a, real_run(2, scenarios=SCENARIOS[:1])) == [
        "scenarios: A 1 page (1 pages); unpopulated (0 pages), B unpopulated (0 pages)"]


def _save(tmp_path: Path, runs: dict[str, dict]) -> dict[str, str]:
    out = {}
    for name, data in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(data))
        out[name] = str(tmp_path / name)
    return out


def test_compare_refuses_another_workload_naming_each_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    d = _save(tmp_path, {"a": real_run(1, clock="icount"), "b": real_run(2, vmas=2048)})
    assert main(["compare", d["a"], d["b"]]) == EXIT_USAGE
    cap = capsys.readouterr()
    assert cap.out == "" and not (tmp_path / "b" / "compare.html").exists()
    assert cap.err.splitlines() == [
        "devbench: compare: the workloads differ: VMAs: A 4096, B 2048",
        "devbench: compare: the workloads differ: clock: A icount (guest instructions, 1 ns each), B real (wall time)",
        "devbench: compare: refused: the runs did not measure the same thing (--force compares them anyway, with a "
        "warning on every output)"]


def test_compare_force_warns_on_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    d = _save(tmp_path, {"a": real_run(1), "b": real_run(2, vmas=2048)})
    warning = "the workloads differ (compared with --force): VMAs: A 4096, B 2048"
    for fmt in ("text", "markdown", "json", "csv"):
        assert main(["compare", d["a"], d["b"], "--force", "--format", fmt]) == EXIT_OK
        cap = capsys.readouterr()
        assert "devbench: warning: compare: the workloads differ: VMAs: A 4096, B 2048" in cap.err
        if fmt == "json":
            assert [m["message"] for m in json.loads(cap.out)["mismatches"]] == ["VMAs: A 4096, B 2048"]
        elif fmt == "csv":
            assert {r["warnings"] for r in csv.DictReader(io.StringIO(cap.out))} == {warning}
        else:
            assert cap.out.splitlines()[2] == ("- **warning**: " if fmt == "markdown" else "! warning: ") + warning
    html = (tmp_path / "b" / "compare.html").read_text()
    assert "did not measure the same workload" in html and "<li>VMAs: A 4096, B 2048</li>" in html


def test_several_runs_a_side_are_each_named_with_their_own_means():
    a = [real_run(31 + i) for i in range(3)]
    b = [real_run(41 + i, scale=1.1, kernel="6.18.44") for i in range(3)]
    cmp = compare(a, b)
    text = compare_output(cmp, "text")
    lines = text.splitlines()
    assert lines[0] == "3 runs of B against 3 runs of A"
    for i in range(3):  # every run, its id and its kernel (shown, not refused)
        assert f"  A{i + 1}: run-{31 + i} (sim), kernel 6.12.118-devbench" in lines
        assert f"  B{i + 1}: run-{41 + i} (sim), kernel 6.18.44" in lines
    assert "each run's mean fork time (runs are the unit of CHANGE):" in lines
    header = next(x for x in lines if x.startswith("scenario") and "A1" in x)
    assert header.split() == ["scenario", "arm", "A1", "A2", "A3", "B1", "B2", "B3"]
    [pair] = cmp.pairs
    m = pair.run_means[0]
    row = next(x for x in lines if x.startswith("unpopulated  unnamed") and x.count("ms") == 6)
    assert row.split()[2:] == [f"{v:.2f}ms" for v in (*m.a, *m.b)]
    # CHANGE is the ratio of the means of these run means
    # the change is the estimate its CI is built on: the ratio of the geometric means of the run means
    geo = sum(math.log(x) for x in m.b) / len(m.b) - sum(math.log(x) for x in m.a) / len(m.a)
    assert pair.rows[0].effect.change_pct == pytest.approx(math.expm1(geo) * 100)
    md = compare_output(cmp, "markdown")
    assert md.startswith("## 3 runs of B against 3 runs of A") and "- B3: `run-43` (sim), kernel 6.18.44" in md
    assert "| scenario | arm | A1 | A2 | A3 | B1 | B2 | B3 |" in md
    summary = json.loads(compare_output(cmp, "json"))
    assert [r["id"] for r in summary["runs"]["a"] + summary["runs"]["b"]] == [
        "run-31", "run-32", "run-33", "run-41", "run-42", "run-43"]
    assert summary["pairs"][0]["run_means"][0]["a"] == list(m.a)
    html = render_compare_html(cmp, a[0], b[0], LINKS)
    for label, run in (("A1", "run-31"), ("A3", "run-33"), ("B2", "run-42")):
        assert f"run {label}: sim · {run} ·" in html
    assert "Each run's mean fork time (ms)" in html and "<th>B3</th>" in html


def test_one_run_a_side_keeps_its_heading_and_names_both():
    cmp = compare(real_run(1), real_run(2))
    lines = compare_output(cmp, "text").splitlines()
    assert lines[0] == "run B run-2 against run A run-1"
    assert "  A: run-1 (sim), kernel 6.12.118-devbench" in lines and "each run's mean fork time" not in "\n".join(lines)


def test_a_side_mixing_workloads_shows_every_value():
    a = [real_run(1), real_run(2, vmas=2048)]
    b = [real_run(3), copy.deepcopy(real_run(4))]
    assert [m.text() for m in mismatches(a, b, [("phone", "phone")])] == ["VMAs: A 2048, 4096, B 4096"]
