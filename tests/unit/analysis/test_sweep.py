"""A VMA-count sweep's analysis: rows keyed by VMA count; the added time per fork in µs and %
against the count; where 4096 stands against the margin (fixed numbers where they are checked)."""

import math
from dataclasses import replace

import numpy as np

from devbench.analysis import analyze
from devbench.analysis.samples import group
from devbench.analysis.sweep import (
    ABOVE,
    CROSSES,
    NO_CI,
    WITHIN,
    SweepPoint,
    at_android,
    nearest,
    point,
    series,
    standing,
)
from devbench.results.rows import RowKey, record_vmas, row_key, run_vmas
from devbench.results.store import summarize
from tests.simdata import make_results, make_sweep

SHIFTS = {"unpopulated": 0.03, "1 page": 0.0, "10 pages": 0.005}


def test_rows_are_keyed_by_target_vma_count_and_scenario():
    d = make_sweep((1024, 4096), shifts=SHIFTS, batch_sd=0.002, sigma=0.01)
    rows = analyze(d).rows()
    assert [r.key for r in rows] == [RowKey("phone", v, sc) for v in (1024, 4096)
                                     for sc in ("unpopulated", "1 page", "10 pages")]
    assert {g.key for g in group(d)} == {r.key for r in rows}
    # each row from its own count's samples only: the 4096 rows are 4x the 1024 rows' fork time
    by = {r.key: r for r in rows}
    ratio = by[RowKey("phone", 4096, "1 page")].base.mean / by[RowKey("phone", 1024, "1 page")].base.mean
    assert 3.8 < ratio < 4.2
    assert all(r.base.n == 1000 and r.other.n == 1000 for r in rows)
    # Holm over the whole family: every scenario at every count
    assert all(r.verdict.kind == "slower" for r in rows if r.scenario == "unpopulated")
    summary = summarize(d, statistics=False)
    assert [(s["vmas"], s["scenario"]) for s in summary] == [(r.vmas, r.scenario) for r in rows]


def test_a_file_from_before_sweeps_reads_as_its_one_count():
    d = make_results(shifts=SHIFTS)
    d["run"]["config"]["benchmark"]["vmas"] = 2048
    assert all("vmas" not in s for s in d["samples"])
    assert run_vmas(d) == 2048
    rows = analyze(d).rows()
    assert {r.vmas for r in rows} == {2048} and series(rows) == []
    del d["run"]["config"]["benchmark"]["vmas"]  # the config did not say: the default
    assert {r.vmas for r in analyze(d).rows()} == {65536}
    # the same samples with their count written in analyse the same
    tagged = {**d, "samples": [{**s, "vmas": 65536} for s in d["samples"]]}
    assert [r.to_json() for r in analyze(tagged).rows()] == [r.to_json() for r in analyze(d).rows()]


def test_record_vmas_ignores_what_is_not_a_count():
    for bad in (0, -1, "4096", True, 1.5, None):
        assert record_vmas({"vmas": bad}, 7) == 7
    assert row_key({"target": "t", "scenario": "s", "vmas": 12}, None) == RowKey("t", 12, "s")
    assert run_vmas({"run": {"config": {"benchmark": {"vmas": [1, 2]}}}}) is None


def test_added_time_is_the_change_applied_to_the_unnamed_mean():
    d = make_sweep((1024, 4096), shifts=SHIFTS, batch_sd=0.002, sigma=0.01)
    for r in analyze(d).rows():
        p = point(r)
        e = r.effect
        assert p is not None and p.vmas == r.vmas and p.change_pct == e.change_pct
        assert math.isclose(p.added_us, e.change_pct / 100 * r.base.mean * 1000)
        assert math.isclose(p.added_ci_us[0], e.ci_low_pct / 100 * r.base.mean * 1000)
        assert math.isclose(p.added_ci_us[1], e.ci_high_pct / 100 * r.base.mean * 1000)
    # unpopulated at 4096: 16.36 ms x 4096/65536 = 1.0225 ms unnamed, named +3%: about +30.7 µs
    rows = {r.key: r for r in analyze(d).rows()}
    p = point(rows[RowKey("phone", 4096, "unpopulated")])
    assert 1.0 < p.unnamed_ms < 1.05 and 28 < p.added_us < 33


def test_series_per_scenario_ascending_only_for_a_sweep():
    d = make_sweep((4096, 1024, 16384), shifts=SHIFTS, batch_sd=0.002, sigma=0.01)
    s = series(analyze(d).rows())
    assert [(x.scenario, x.pages, [p.vmas for p in x.points]) for x in s] == [
        (sc, pages, [1024, 4096, 16384]) for sc, pages in (("unpopulated", 0), ("1 page", 1), ("10 pages", 10))]
    one = make_results(shifts=SHIFTS)
    assert series(analyze(one).rows()) == []


def _p(vmas=4096, ci=(0.2, 0.6), change=0.4) -> SweepPoint:
    return SweepPoint(vmas, 1.0, change, ci, change * 10, None if ci is None else (ci[0] * 10, ci[1] * 10),
                      "x", "slower")


def test_standing_against_the_margin():
    assert standing(_p(ci=(-0.4, 0.9)), 1.0) == WITHIN
    assert standing(_p(ci=(-1.0, 1.0)), 1.0) == WITHIN
    assert standing(_p(ci=(1.1, 1.4)), 1.0) == ABOVE
    assert standing(_p(ci=(0.8, 1.2)), 1.0) == CROSSES
    assert standing(_p(ci=(-1.5, -1.2)), 1.0) == "below"
    assert standing(_p(ci=None), 1.0) == NO_CI


def test_nearest_4096_on_a_log_scale():
    pts = [_p(v) for v in (256, 1024, 16384, 65536)]
    assert nearest(pts).vmas == 1024  # 2 octaves below, 2 above: the smaller on a tie
    assert nearest([_p(v) for v in (256, 8192)]).vmas == 8192
    assert nearest([_p(4096), _p(4000)]).vmas == 4096
    assert nearest([]) is None


def test_findings_at_4096():
    d = make_sweep((1024, 4096, 16384), shifts={"unpopulated": 0.03, "1 page": 0.0, "10 pages": 0.005},
                   batch_sd=0.001, sigma=0.005)
    found = at_android(series(analyze(d).rows()), 1.0)
    assert [(f.scenario, f.point.vmas, f.exact) for f in found] == [
        ("unpopulated", 4096, True), ("1 page", 4096, True), ("10 pages", 4096, True)]
    by = {f.scenario: f.standing for f in found}
    assert by["unpopulated"] == ABOVE and by["1 page"] == WITHIN and by["10 pages"] == WITHIN
    assert all(np.isfinite(f.point.added_us) for f in found)


def test_a_refused_count_leaves_its_point_out():
    d = make_sweep((1024, 4096), shifts=SHIFTS)
    d["samples"] = [s for s in d["samples"] if not (s["vmas"] == 4096 and s["arm"] == "named")]
    rows = analyze(d).rows()
    pts = {(x.scenario, p.vmas): p for x in series(rows) for p in x.points}
    assert pts[("unpopulated", 4096)].added_us is None and pts[("unpopulated", 4096)].kind == "not measured"
    found = at_android(series(rows), 1.0)
    assert {f.standing for f in found} == {NO_CI}
    assert replace(found[0], margin_pct=2.0).margin_pct == 2.0
