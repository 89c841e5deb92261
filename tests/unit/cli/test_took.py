"""The run's wall time line (devbench.cli.run.took_line): from results.json's run.started, or the
last resume, to run.ended."""

from __future__ import annotations

from devbench.cli.run import took_line


def test_took_reads_started_to_ended():
    run = {"started": "2026-12-07T08:08:32+00:00", "ended": "2026-12-07T08:21:06+00:00"}
    assert took_line(run) == ("devbench: took 12 min 34 s (run.started 2026-12-07T08:08:32+00:00 to run.ended "
                              "2026-12-07T08:21:06+00:00 in results.json)")


def test_a_resumed_run_counts_from_its_last_resume():
    run = {"started": "2026-12-07T08:00:00+00:00", "resumed": ["2026-12-07T09:00:00+00:00"],
           "ended": "2026-12-07T09:00:45+00:00"}
    assert took_line(run).startswith("devbench: took 45 s (run.resumed[-1] 2026-12-07T09:00:00+00:00 to")


def test_no_line_without_both_ends():
    assert took_line({"started": "2026-12-07T08:00:00+00:00", "ended": None}) is None
    assert took_line({"started": "garbage", "ended": "2026-12-07T08:00:00+00:00"}) is None
    assert took_line({}) is None
