"""How long a run of a config will take on a target, from an earlier run of that target (pure).

Measured, not assumed: the earlier run's wall time is split into its timed work (every timed
fork's fork_ns and exit_ns, and its warm-up forks at the same mean) and the rest (boot,
build, VMA set-up, device preparation and restore). The estimate is that rest plus the new
plan's forks (timed and warm-up, all arms) at the earlier run's mean per scenario. Scenarios
are matched by their page count, and only when the VMA count is the same; a scenario that
was not measured there, or a different VMA count, gives no estimate (never a guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class EarlierRun:
    run_id: str
    wall_s: float
    timed_s: float                     # timed and warm-up forks (fork + exit)
    ns_per_fork: dict[int, float]      # pages -> mean fork_ns + exit_ns
    vmas: int
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
    run = data.get("run") if isinstance(data.get("run"), dict) else None
    if not run or run.get("status") not in ("complete", "failed"):  # failed: a refused arm, a failed target; it ran to its end
        return None
    wall = _seconds(run.get("started"), run.get("ended"))
    cfg = run.get("config") if isinstance(run.get("config"), dict) else {}
    bench = cfg.get("benchmark") if isinstance(cfg.get("benchmark"), dict) else {}
    pages = {s.get("name"): s.get("pages") for s in bench.get("scenarios") or [] if isinstance(s, dict) and _num(s.get("pages"))}
    vmas = bench.get("vmas", 65536)
    if wall is None or wall <= 0 or not _num(vmas) or not pages:
        return None
    total_ns: dict[int, float] = {}
    count: dict[int, int] = {}
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
        warm = s.get("warmup") if _num(s.get("warmup")) else 0
        p = int(pages[s["scenario"]])
        total_ns[p] = total_ns.get(p, 0.0) + per_fork * len(fork_ns)
        count[p] = count.get(p, 0) + len(fork_ns)
        timed += per_fork * (len(fork_ns) + warm) / 1e9
        forks += len(fork_ns)
    if not forks:
        return None
    return EarlierRun(str(run.get("id")), wall, timed, {p: total_ns[p] / count[p] for p in count}, int(vmas),
                      str(bench.get("mode", "interleaved")), forks)


def estimate_s(earlier: EarlierRun, vmas: int, forks_by_pages: Mapping[int, int]) -> float | None:
    """Seconds for a plan of forks (timed and warm-up, all arms) per page count; None when the
    earlier run cannot tell (another VMA count, a page count it did not measure)."""
    if earlier.vmas != vmas or any(p not in earlier.ns_per_fork for p in forks_by_pages):
        return None
    return earlier.rest_s + sum(n * earlier.ns_per_fork[p] / 1e9 for p, n in forks_by_pages.items())


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"
