"""A VMA-count sweep as a LAVA job: one test case per scenario and count, and back from the job log
(every fork time at its count) or from the results alone (the means per scenario and count)."""

from __future__ import annotations

import pytest

from devbench.lava import lava_results
from devbench.report.table import render_text
from tests.unit.lava import test_lava_results as base

SWEEP = base.CONFIG.replace("  vmas: 64\n", "  vmas: [64, 128]\n")


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "CONFIG", SWEEP)
    return base.Lab(tmp_path, base.OUTPUTS)


def test_one_step_and_test_case_per_scenario_and_count(lab):
    steps = [s for s in lab.testdef["run"]["steps"] if s.startswith("sh ./devbench-lava.sh scenario ")]
    assert len(steps) == 4
    assert ["--vmas 64" in s for s in steps] == [True, True, False, False]
    cases = [c[0] for c in lab.shell.cases if len(c) > 4 and not c[0].endswith(".exit")]
    assert cases == [f"{sc}-{v}vmas.{arm}" for v in (64, 128) for sc in ("unpopulated", "10_pages")
                     for arm in ("unnamed", "named")]


def test_every_fork_time_comes_back_at_its_count(lab):
    data = base.lava_results(lab.results, lab.log)
    assert data["errors"] == [] and data["targets"][0]["warnings"] == [base.NOT_LOCKED]  # measurements agree
    for v in (64, 128):
        for scenario, pages in (("unpopulated", 0), ("10 pages", 10)):
            for arm in ("unnamed", "named"):
                got = [(s["batch"], s["fork_ns"]) for s in data["samples"]
                       if (s["vmas"], s["scenario"], s["arm"]) == (v, scenario, arm)]
                assert got == base.fork_ns_of(base.OUTPUTS[pages][0], arm)
    assert [(r["vmas"], r["scenario"]) for r in data["summary"]] == [
        (v, sc) for v in (64, 128) for sc in ("unpopulated", "10 pages")]
    text = render_text(data)
    assert "- At 128 VMAs, this sweep's count nearest 4096" in text


def test_the_means_alone_per_scenario_and_count(lab):
    data = lava_results(lab.results, config_path=lab.cfg_path)
    assert [(r["vmas"], r["scenario"], r["pages"]) for r in data["summary"]] == [
        (v, sc, p) for v in (64, 128) for sc, p in (("unpopulated", 0), ("10 pages", 10))]
    cases = {c[0]: float(c[4]) for c in lab.shell.cases if len(c) > 4}
    row = next(r for r in data["summary"] if (r["vmas"], r["scenario"]) == (128, "unpopulated"))
    assert row["unnamed_mean_ms"] == cases["unpopulated-128vmas.unnamed"]
