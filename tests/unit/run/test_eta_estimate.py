"""Duration estimates from an earlier run (devbench/run/eta.py), on fixed numbers."""

from __future__ import annotations

from devbench.run.eta import earlier_run, estimate_s, format_duration


def _run(status: str = "complete", **bench: object) -> dict:
    cfg = {
        "benchmark": {
            "vmas": 1000,
            "mode": "interleaved",
            "scenarios": [{"name": "a", "pages": 0}, {"name": "b", "pages": 1}],
            **bench,
        }
    }
    samples = [
        {
            "target": "t",
            "scenario": "a",
            "arm": "unnamed",
            "batch": 0,
            "warmup": 2,
            "fork_ns": [1_000_000] * 10,
            "exit_ns": [500_000] * 10,
        },
        {"target": "t", "scenario": "a", "arm": "named", "batch": 0, "warmup": 2, "fork_ns": [1_000_000] * 10},
        {"target": "t", "scenario": "b", "arm": "unnamed", "batch": 0, "warmup": 0, "fork_ns": [3_000_000] * 10},
        {"target": "other", "scenario": "b", "arm": "unnamed", "batch": 0, "warmup": 0, "fork_ns": [9e9] * 10},
        {"target": "t", "scenario": "a", "arm": "unnamed", "batch": 1, "warmup": "x", "fork_ns": ["bad", -1]},
    ]
    return {
        "run": {
            "id": "r1",
            "status": status,
            "started": "2026-12-05T06:00:00+00:00",
            "ended": "2026-12-05T06:00:10+00:00",
            "config": cfg,
        },
        "samples": samples,
    }


def test_earlier_run_splits_wall_time_into_forks_and_the_rest() -> None:
    e = earlier_run(_run(), "t")
    assert e is not None and e.wall_s == 10.0 and e.forks == 30
    # a: unnamed 1.5 ms x (10 + 2 warm-up), named 1.0 ms x 12; b: 3 ms x 10 (all at the config's 1000 VMAs)
    assert abs(e.timed_s - (0.018 + 0.012 + 0.030)) < 1e-9
    assert e.ns_per_fork == {(1000, 0): 1_250_000.0, (1000, 1): 3_000_000.0}
    assert abs(estimate_s(e, {(1000, 0): 1000, (1000, 1): 100}) - (10 - 0.06 + 1.25 + 0.3)) < 1e-9


def test_a_sweep_is_estimated_per_vma_count() -> None:
    data = _run()
    data["run"]["config"]["benchmark"]["vmas"] = [1000, 4000]
    data["samples"] = [{**s, "vmas": 1000} for s in data["samples"]] + [
        {"target": "t", "vmas": 4000, "scenario": "a", "arm": "unnamed", "batch": 0, "warmup": 0,
         "fork_ns": [6_000_000]}]
    e = earlier_run(data, "t")
    assert e is not None and e.ns_per_fork == {(1000, 0): 1_250_000.0, (1000, 1): 3_000_000.0, (4000, 0): 6_000_000.0}
    assert estimate_s(e, {(4000, 0): 10, (1000, 0): 10}) is not None
    assert estimate_s(e, {(4000, 1): 10}) is None


def test_no_estimate_without_a_measure_of_the_same_thing() -> None:
    e = earlier_run(_run(), "t")
    assert e is not None
    assert estimate_s(e, {(2000, 0): 10}) is None      # another VMA count
    assert estimate_s(e, {(1000, 10): 10}) is None     # a page count not measured
    assert earlier_run(_run(), "nobody") is None
    assert earlier_run(_run("interrupted"), "t") is None and earlier_run(_run("running"), "t") is None
    assert earlier_run({"run": "x"}, "t") is None and earlier_run({}, "t") is None


def test_format_duration() -> None:
    assert [format_duration(s) for s in (4.4, 63, 3600 * 2 + 60 * 5)] == ["4 s", "1 min 03 s", "2 h 05 min"]
