"""How long a run takes, two ways (pure; the clock is passed in).

Before a run (`devbench check`): how long a run of a config will take on a target, from an
earlier run of that target.

Measured, not assumed: the earlier run's wall time is split into its timed work (every timed
fork's fork_ns and exit_ns, and its warm-up forks at the same mean) and the rest (boot,
build, VMA set-up, device preparation and restore). The estimate is that rest plus the new
plan's forks (timed and warm-up, all arms) at the earlier run's mean per scenario. Scenarios
are matched by their page count, and only when the VMA count is the same; a scenario that
was not measured there, or a different VMA count, gives no estimate (never a guess).

During a run (the progress display's ETA): how long a target still needs, from its own
measured pace.

A target's plan is the timed forks still to take per scenario (all arms). Its pace is wall
seconds per timed fork, per scenario, from the time between consecutive batches of one
payload process (so the untimed warm-up forks and each child's exit count). The time from a
process's start (a step: the runner reports steps only between processes) to its first batch
is its set-up (the VMAs, their pages, the reads between processes), kept apart: each scenario
not started yet adds the mean set-up measured so far. Nothing before the first step after the
plan counts (the build, the device preparation). A scenario not measured yet is given the pace
of those measured so far.

With `forks: auto` the plan is an estimate, redone after every round: a scenario still short
of its precision needs about n x (half-width / asked)^2 forks per arm (the CI narrows as
1/sqrt(n)), n being the forks behind that half-width (the rounds before the last: the stop is
decided on them), taken in whole rounds and never past the round that reaches max_forks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from devbench.results.rows import record_vmas, row_key, run_vmas, with_vmas

if TYPE_CHECKING:
    from devbench.config import BenchmarkConfig
    from devbench.run.plan import Invocation


@dataclass
class TargetPace:
    remaining: dict[str, int] = field(default_factory=dict)  # scenario -> forks still to take (all arms)
    done: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # scenario -> wall seconds behind the timed forks
    forks: dict[str, int] = field(default_factory=dict)      # scenario -> timed forks those seconds cover
    last: float | None = None  # when the previous batch (or the first step after the plan) was seen
    estimated: bool = False    # forks: auto: the plan is an estimate
    gap: bool = False          # a step since the last batch: the next batch starts a process
    setups: list[float] = field(default_factory=list)  # seconds from a process's start to its first batch
    started: set[str] = field(default_factory=set)     # scenarios with a batch since the plan

    @property
    def total(self) -> int:
        return self.done + sum(self.remaining.values())

    def rate(self, scenario: str) -> float | None:
        """Seconds per timed fork of a scenario (else of every scenario measured so far)."""
        if self.forks.get(scenario):
            return self.seconds[scenario] / self.forks[scenario]
        n = sum(self.forks.values())
        return sum(self.seconds.values()) / n if n else None

    def eta_s(self) -> float | None:
        left = 0.0
        setup = sum(self.setups) / len(self.setups) if self.setups else 0.0
        for scenario, forks in self.remaining.items():
            if forks <= 0:
                continue
            r = self.rate(scenario)
            if r is None:
                return None
            left += forks * r + (setup if scenario not in self.started else 0.0)
        return left


class Pace:
    """Every target's pace; the progress displays ask it for totals and ETAs."""

    def __init__(self) -> None:
        self.targets: dict[str, TargetPace] = {}

    def get(self, target: str) -> TargetPace:
        return self.targets.setdefault(target, TargetPace())

    def plan(self, target: str, remaining: Mapping[str, int], *, estimated: bool = False) -> None:
        t = self.get(target)
        t.remaining = {sc: max(0, int(n)) for sc, n in remaining.items()}
        t.estimated = estimated
        t.started = {sc for sc in t.started if sc in t.remaining}  # forks: auto: a new round starts each again
        if estimated:
            t.started.clear()

    def step(self, target: str, now: float) -> None:
        t = self.get(target)
        if t.last is None and t.remaining:
            t.last = now  # the payload is about to start: the first batch is timed from here
        t.gap = True

    def batch(self, target: str, scenario: str, forks: int, now: float) -> None:
        t = self.get(target)
        t.done += forks
        if scenario in t.remaining:
            t.remaining[scenario] = max(0, t.remaining[scenario] - forks)
        t.started.add(scenario)
        if t.last is not None and t.gap:
            t.setups.append(max(0.0, now - t.last))
        elif t.last is not None and forks > 0:
            t.seconds[scenario] = t.seconds.get(scenario, 0.0) + max(0.0, now - t.last)
            t.forks[scenario] = t.forks.get(scenario, 0) + forks
        t.gap = False
        t.last = now


def format_eta(seconds: float | None, estimated: bool = False) -> str:
    if seconds is None:
        return "ETA: once a batch is timed"
    s = int(round(seconds))
    text = (
        f"{s // 3600} h {s % 3600 // 60:02d} min"
        if s >= 3600
        else f"{s // 60} min {s % 60:02d} s"
        if s >= 60
        else f"{s} s"
    )
    return f"ETA {'~' if estimated else ''}{text}"


def adaptive_remaining(done_per_arm: Mapping[str, int], half_width_pct: Mapping[str, float | None],
                       stopped: Mapping[str, str], arms: Mapping[str, int], round_forks: int, max_forks: int,
                       precision_pct: float, behind_half_width: Mapping[str, int] | None = None) -> dict[str, int]:
    """forks: auto: the forks (all arms) each scenario is still expected to take. stopped:
    scenario -> why it stopped ("" while it goes on); half_width_pct: its CI half-width so far
    (None: not known yet, one more round is all that can be said); behind_half_width: the
    forks per arm that half-width is of (default: all done). The stop is decided on the
    rounds before the last (devbench.run.adaptive.precisions), so when those n' forks need
    n' x (hw/asked)^2, that many more are taken after them, the deciding round included."""
    out = {}
    for sc, n_arms in arms.items():
        n = done_per_arm.get(sc, 0)
        if stopped.get(sc):
            out[sc] = 0
            continue
        hw = half_width_pct.get(sc)
        behind = (behind_half_width or done_per_arm).get(sc, n)
        rounds = 1
        if hw is not None and behind > 0 and precision_pct > 0:
            need = behind * (hw / precision_pct) ** 2  # forks behind a CI as narrow as asked
            rounds = max(1, math.ceil((need - behind) / round_forks))
        cap = max(1, math.ceil((max_forks - n) / round_forks))  # the round that reaches max_forks is the last
        out[sc] = min(rounds, cap) * round_forks * n_arms
    return out


def planned_forks(bench: BenchmarkConfig, invocations: Sequence[Invocation]) -> dict[str, int]:
    """Scenario (in a sweep: scenario at a VMA count, Invocation.label) -> the timed forks (all
    arms) that these payload invocations take."""
    from devbench.run.plan import expected_forks

    out: dict[str, int] = {}
    for inv in invocations:
        out[inv.label] = out.get(inv.label, 0) + expected_forks(bench, inv.args) * len(inv.arms)
    return out


def arms_per_scenario(invocations: Sequence[Invocation]) -> dict[str, int]:
    out: dict[str, int] = {}
    for inv in invocations:
        out[inv.label] = out.get(inv.label, 0) + len(inv.arms)
    return out


def measured_arms(data: Mapping[str, object], target: str, planned: Mapping[str, int],
                  sweep: bool = False) -> dict[str, int]:
    """forks: auto after a round: the arms that did give samples per scenario (an arm the kernel
    refused at run time gives none, and takes no forks in the rounds to come); the planned
    count where a scenario has none yet."""
    seen: dict[str, set[str]] = {}
    samples = data.get("samples")
    default = run_vmas(data)
    for s in samples if isinstance(samples, list) else []:
        if isinstance(s, dict) and s.get("target") == target and s.get("fork_ns"):
            key = row_key(s, default)
            seen.setdefault(with_vmas(key.scenario, key.vmas, sweep), set()).add(str(s.get("arm")))
    return {sc: len(seen[sc]) if seen.get(sc) else n for sc, n in planned.items()}


# -- before a run: from an earlier run of the target -----------------------------------------

@dataclass(frozen=True)
class EarlierRun:
    run_id: str
    wall_s: float
    timed_s: float                     # timed and warm-up forks (fork + exit)
    ns_per_fork: dict[tuple[int, int], float]  # (VMA count, pages) -> mean fork_ns + exit_ns
    mode: str
    forks: int                         # timed forks, all arms

    @property
    def rest_s(self) -> float:
        return max(0.0, self.wall_s - self.timed_s)


def _seconds(a: Any, b: Any) -> float | None:
    try:
        return (datetime.fromisoformat(str(b)) - datetime.fromisoformat(str(a))).total_seconds()
    except (TypeError, ValueError):
        return None


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def earlier_run(data: Mapping[str, Any], target: str) -> EarlierRun | None:
    """What a results.json (untrusted: only well-formed numbers are used) says of target's pace;
    None when it is not a finished run (complete, or failed in part) with samples of it."""
    run: dict[str, Any] = r if isinstance(r := data.get("run"), dict) else {}
    # failed: a refused arm, a failed target; it ran to its end
    if not run or run.get("status") not in ("complete", "failed"):
        return None
    wall = _seconds(run.get("started"), run.get("ended"))
    cfg: dict[str, Any] = c if isinstance(c := run.get("config"), dict) else {}
    bench: dict[str, Any] = b if isinstance(b := cfg.get("benchmark"), dict) else {}
    pages: dict[Any, Any] = {
        s.get("name"): s.get("pages")
        for s in bench.get("scenarios") or []
        if isinstance(s, dict) and _num(s.get("pages"))
    }
    default = run_vmas(data)
    if wall is None or wall <= 0 or not pages:
        return None
    total_ns: dict[tuple[int, int], float] = {}
    count: dict[tuple[int, int], int] = {}
    timed = 0.0
    forks = 0
    for s in data.get("samples") or []:
        if not isinstance(s, dict) or s.get("target") != target or s.get("scenario") not in pages:
            continue
        fork_ns = [v for v in s.get("fork_ns") or [] if _num(v)]
        exit_ns = [v for v in s.get("exit_ns") or [] if _num(v)]
        if not fork_ns:
            continue
        per_fork = sum(fork_ns) / len(fork_ns) + (sum(exit_ns) / len(exit_ns) if exit_ns else 0.0)
        warm: float = s["warmup"] if _num(s.get("warmup")) else 0
        vmas = record_vmas(s, default)
        if vmas is None:
            continue
        p = (vmas, int(pages[s["scenario"]]))
        total_ns[p] = total_ns.get(p, 0.0) + per_fork * len(fork_ns)
        count[p] = count.get(p, 0) + len(fork_ns)
        timed += per_fork * (len(fork_ns) + warm) / 1e9
        forks += len(fork_ns)
    if not forks:
        return None
    return EarlierRun(str(run.get("id")), wall, timed, {p: total_ns[p] / count[p] for p in count},
                      str(bench.get("mode", "interleaved")), forks)


def estimate_s(earlier: EarlierRun, forks_by_case: Mapping[tuple[int, int], int]) -> float | None:
    """Seconds for a plan of forks (timed and warm-up, all arms) per (VMA count, page count);
    None when the earlier run cannot tell (a VMA count or page count it did not measure)."""
    if any(p not in earlier.ns_per_fork for p in forks_by_case):
        return None
    return earlier.rest_s + sum(n * earlier.ns_per_fork[p] / 1e9 for p, n in forks_by_case.items())


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"
