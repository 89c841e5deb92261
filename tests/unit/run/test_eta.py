"""ETA and honest totals (devbench/run/eta.py, devbench/run/progress.py), on fixed clocks and numbers."""

from __future__ import annotations

import io
import re

import pytest

from devbench.config import parse_text
from devbench.run.eta import Pace, adaptive_remaining, format_eta, planned_forks
from devbench.run.plan import plan
from devbench.run.progress import LineProgress

CFG = """targets: [{name: here, local: {}}]
benchmark:
  forks: 100
  batches: 10
  scenarios: [{name: a, pages: 0}, {name: b, pages: 10}]
"""


def test_planned_forks_per_scenario_follow_the_plan_and_refusals() -> None:
    bench = parse_text(CFG).benchmark
    assert planned_forks(bench, plan(bench, set())) == {"a": 200, "b": 200}
    assert planned_forks(bench, plan(bench, {(None, "b", "named")})) == {"a": 200, "b": 100}


def test_eta_from_each_scenarios_own_pace_and_the_set_up_apart() -> None:
    pace = Pace()
    pace.plan("t", {"a": 200, "b": 200})
    pace.step("t", 100.0)                  # the payload starts; build and preparation are not counted
    pace.batch("t", "a", 20, 102.0)        # its first batch: 2 s of set-up, not pace
    t = pace.get("t")
    assert t.setups == [2.0] and t.eta_s() is None  # no pace yet
    for i in range(9):                     # then 20 forks (both arms) a second: 0.05 s per fork
        pace.batch("t", "a", 20, 103.0 + i)
    assert t.done == 200 and t.remaining == {"a": 0, "b": 200} and t.total == 400
    assert abs(t.rate("a") - 0.05) < 1e-9
    assert abs(t.eta_s() - (200 * 0.05 + 2.0)) < 1e-9   # b not measured: a's pace, and a set-up to come
    pace.step("t", 111.5)                               # b: setting up
    pace.batch("t", "b", 10, 114.0)
    assert t.setups == [2.0, 3.0] and abs(t.eta_s() - 190 * 0.05) < 1e-9  # b started: no set-up left
    pace.batch("t", "b", 10, 116.0)                     # b: 0.2 s per fork
    assert abs(t.eta_s() - 180 * 0.2) < 1e-9


def test_adaptive_estimate_from_the_ci_width() -> None:
    # 200 forks per arm at +-2.0% asked 1%: about 4x the forks -> 600 more per arm = 3 rounds of 200
    got = adaptive_remaining({"a": 200, "b": 200, "c": 200}, {"a": 2.0, "b": 0.5, "c": None},
                             {"a": "", "b": "precision reached", "c": ""}, {"a": 2, "b": 2, "c": 1}, 200, 5000, 1.0)
    assert got == {"a": 3 * 200 * 2, "b": 0, "c": 200}


def test_adaptive_estimate_stops_at_the_round_that_reaches_max_forks() -> None:
    got = adaptive_remaining({"a": 900}, {"a": 10.0}, {"a": ""}, {"a": 2}, 200, 1000, 1.0)
    assert got == {"a": 200 * 2}  # 900 -> 1100: the round that passes max_forks is the last
    assert adaptive_remaining({}, {}, {}, {"a": 2}, 200, 5000, 1.0) == {"a": 400}  # before any round: one round


def test_format_eta() -> None:
    assert format_eta(None) == "ETA: once a batch is timed"
    assert format_eta(42.4) == "ETA 42 s" and format_eta(125, estimated=True) == "ETA ~2 min 05 s"
    assert format_eta(3 * 3600 + 7 * 60) == "ETA 3 h 07 min"


def test_line_progress_shows_the_honest_total_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    p = LineProgress(out, clock=lambda: now[0])
    p.target_started("t", 400)
    p.plan("t", {"a": 400}, estimated=True)
    p.step("t", "a: setting up both")
    now[0] = 4.0
    p.batch("t", "a", "named", 20)
    now[0] = 6.0
    p.batch("t", "a", "unnamed", 20)
    lines = out.getvalue().splitlines()
    assert lines[1] == "[t] plan: about 400 timed forks (forks: auto: estimated after each round)"
    assert lines[-2] == "[t] a named: +20 forks (20/400, ETA: once a batch is timed)"
    assert lines[-1] == "[t] a unnamed: +20 forks (40/400, ETA ~36 s)"  # 360 forks at 0.1 s
    p.plan("t", {"a": 1000}, estimated=True)
    assert (
        out.getvalue().splitlines()[-1]
        == "[t] plan: about 1040 timed forks (40 done) (forks: auto: estimated after each round)"
    )


def test_rich_progress_total_follows_the_plan() -> None:
    from devbench.run.progress import RichProgress

    now = [0.0]
    p = RichProgress(clock=lambda: now[0])
    p.target_started("t", 10_000)
    p.plan("t", {"a": 400, "b": 400}, estimated=True)
    p.step("t", "a: setting up both")
    now[0] = 2.0
    p.batch("t", "a", "both", 20)
    now[0] = 4.0
    p.batch("t", "a", "both", 20)
    [task] = p.progress.tasks
    # 360 a forks and 400 b forks at a's 0.1 s, and b's set-up as a's (2 s)
    assert (task.total, task.completed) == (800, 40) and task.fields["eta"] == "ETA ~1 min 18 s"


def test_measured_arms_drop_an_arm_refused_at_run_time() -> None:
    from devbench.run.eta import measured_arms

    data = {"samples": [{"target": "t", "scenario": "a", "arm": "unnamed", "fork_ns": [1]},
                        {"target": "t", "scenario": "a", "arm": "named", "fork_ns": []},
                        {"target": "u", "scenario": "b", "arm": "named", "fork_ns": [1]}]}
    assert measured_arms(data, "t", {"a": 2, "b": 2}) == {"a": 1, "b": 2}


def test_adaptive_estimate_counts_from_the_forks_behind_the_half_width() -> None:
    # 400 done per arm; the +-2% is of the 200 before the last round: the stop needs 800 before
    # the deciding round, so 1000 in all: 600 more per arm, 3 rounds
    got = adaptive_remaining({"a": 400}, {"a": 2.0}, {"a": ""}, {"a": 2}, 200, 5000, 1.0, {"a": 200})
    assert got == {"a": 3 * 200 * 2}


@pytest.mark.parametrize("width", [80, 120])
def test_rich_progress_says_a_failure_whole_wrapped_at_word_boundaries(width: int) -> None:
    """A failed target's reason on a terminal of 80 or 120 columns: every word of it, none cut,
    no line wider than the terminal; a device's escape sequence shown, never obeyed."""
    from rich.console import Console

    from devbench.run.progress import RichProgress

    buf = io.StringIO()
    why = ("connect: ssh to 192.0.2.10:22 refused after 3 attempts; the device's sshd is not running or a "
           "firewall drops the port (target kut, step connect) \x1b]0;pwned\x07")
    with RichProgress(console=Console(file=buf, width=width, force_terminal=True, color_system=None)) as p:
        p.target_started("kut", 100)
        p.target_done("kut", False, why)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue()).replace("\r", "\n")
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    assert all(len(ln) <= width for ln in lines)
    said = " ".join(ln for ln in lines if "failed" not in ln or "kut failed:" in ln)
    words = "kut failed: " + why.replace("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07")
    assert " ".join(words.split()) in " ".join(said.split())
    assert "\x1b]" not in buf.getvalue()
