"""One payload process on a target: its events turned into results, its failure explained
(exit code, the kernel's last words); and the rounds of `forks: auto`."""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass

from devbench.config import BenchmarkConfig
from devbench.device.session import DeviceSession
from devbench.errors import ConnectionLost, TargetError
from devbench.payload.build import verified
from devbench.payload.events import event_record, exit_error, parse_event
from devbench.results.store import ResultsStore
from devbench.run.context import Cancel, Progress
from devbench.run.eta import adaptive_remaining, arms_per_scenario, measured_arms
from devbench.run.plan import Invocation, expected_forks
from devbench.targets.base import Target


class EventSink:
    """Turns one payload process's events into results (samples, checks, errors)."""

    def __init__(self, store: ResultsStore, target: str, inv: Invocation, progress: Progress, batch_offset: int = 0,
                 boot: int | None = None):
        self.batch_offset = batch_offset  # adaptive rounds, a kernel's later boots: batch numbers go on
        self.boot = boot  # one boot of a kernel of a target's kernels: its slot, on every record
        self.store = store
        self.target = target
        self.inv = inv
        self.progress = progress
        self.errors = 0
        self.counts = {arm: 0 for arm in inv.arms}
        self.noise: list[str] = []
        self.ended = False

    def __call__(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            if line.strip():
                self.noise.append(line[:200])
            return
        what = event_record(event, self.target, self.inv.scenario.name, self.inv.arm, self.batch_offset,
                            self.inv.vmas)
        if what is None:
            return
        kind, rec = what
        if self.boot is not None and kind in ("sample", "check", "error"):
            rec["boot"] = self.boot
        if kind == "sample":
            self.store.add_sample(**rec)
            self.counts[rec["arm"]] = self.counts.get(rec["arm"], 0) + len(rec["fork_ns"])
            self.progress.batch(self.target, self.inv.label, rec["arm"], len(rec["fork_ns"]))
        elif kind == "check":
            self.store.add_check(rec)
        elif kind == "error":
            self.errors += 1
            self.store.add_error(**rec)
        else:
            self.ended = True


def kernel_last_words(target: Target, remote: str) -> list[str]:
    """The kernel log's last lines about the payload (OOM kills, segfaults), where readable."""
    name = posixpath.basename(remote)[:15]
    try:
        res = target.run(
            ["sh", "-c", 'dmesg 2>/dev/null | tail -n 200 | grep -F -e "$1" | tail -n 3', "sh", name], timeout=20
        )
    except TargetError:
        return []
    return [ln.strip()[:300] for ln in res.stdout.splitlines() if ln.strip()]


def run_invocation(
    target: Target,
    remote: str,
    inv: Invocation,
    bench: BenchmarkConfig,
    store: ResultsStore,
    progress: Progress,
    prefix: tuple[str, ...] = (),
    cancel: Cancel | None = None,
    batch_offset: int = 0,
    boot: int | None = None,
) -> None:
    """One payload process: its samples and checks recorded as they come, its failure as an
    error of its scenario; a lost connection is raised (ConnectionLost) for the run to reconnect."""
    timeout = bench.timeout_s
    sink = EventSink(store, target.name, inv, progress, batch_offset, boot)
    sc, at = inv.scenario.name, {"vmas": inv.vmas}
    progress.step(target.name, f"{inv.label}: setting up {inv.arm}")
    started = time.monotonic()
    try:
        res = target.run_payload([*prefix, *verified(remote), *inv.args], timeout=timeout, on_line=sink)
    except TargetError as exc:
        if cancel is not None:
            cancel.check()  # aborted by an interrupt of the run, not a failure of the device
        if "connection lost" in exc.message:
            raise ConnectionLost(target.name, f"{inv.label} ({inv.arm})", exc.message) from None
        store.add_error(target.name, sc, None if inv.arm == "both" else inv.arm, "run-failed", str(exc), **at)
        return
    if res.exit_code != 0 and sink.errors == 0:
        kind, message = exit_error(res.exit_code, res.last_words())
        extra = {}
        if kind == "payload-killed":  # killed: the kernel may have said why (OOM killer, segfault)
            said = kernel_last_words(target, remote)
            if said:
                extra["dmesg"] = said
                message += f"; kernel: {said[-1]}"
        store.add_error(target.name, sc, None if inv.arm == "both" else inv.arm, kind, message,
                        exit_code=res.exit_code, seconds=round(time.monotonic() - started, 3), **at, **extra)
    elif res.exit_code == 0:
        expected = expected_forks(bench, inv.args)
        for arm, n in sink.counts.items():
            if n != expected:
                store.add_error(
                    target.name, sc, arm, "incomplete", f"{n} of {expected} fork samples received for {arm}", **at
                )
    if sink.noise:
        store.warn(target.name,
                   f"{inv.label}: {len(sink.noise)} unparsed payload output line(s), first: {sink.noise[0]!r}")


@dataclass
class AdaptiveRounds:
    """forks: auto: a round (`forks` in `batches`) per scenario at a time, until each
    scenario's CI is as narrow as asked or max_forks is reached; why each stopped is recorded.
    `done` counts the rounds measured, kept across a reconnect."""

    invocations: list[Invocation]
    bench: BenchmarkConfig
    done: int = 0

    def run(self, target: Target, remote: str, store: ResultsStore, progress: Progress, session: DeviceSession,
            cancel: Cancel) -> None:
        from devbench.run.adaptive import precisions, still_needed

        bench, invocations = self.bench, self.invocations
        a = bench.adaptive
        assert a is not None
        name = target.name
        scenarios = list(dict.fromkeys(inv.label for inv in invocations))  # a sweep: each count its own rounds
        while True:
            prec = precisions(store.data, name, bench.sweep) if self.done else {}
            why = still_needed(prec, scenarios, a.precision_pct, a.max_forks)
            progress.plan(name, adaptive_remaining({sc: p.forks for sc, p in prec.items()},
                                                   {sc: p.half_width_pct for sc, p in prec.items()}, why,
                                                   measured_arms(store.data, name, arms_per_scenario(invocations),
                                                                 bench.sweep),
                                                   bench.forks, a.max_forks, a.precision_pct,
                                                   {sc: max(0, p.forks - bench.forks) for sc, p in prec.items()}),
                          estimated=True)
            store.update_target(name, adaptive={
                "precision_pct": a.precision_pct, "max_forks": a.max_forks, "rounds": self.done,
                "forks_per_round": bench.forks,
                "scenarios": {sc: {**(prec[sc].to_json() if sc in prec else {}), "stopped": why[sc] or None}
                              for sc in scenarios}})
            pending = [inv for inv in invocations if not why[inv.label]]
            if not pending:
                return
            offset = self.done * bench.batches
            for inv in pending:
                cancel.check()
                progress.step(name, f"{inv.label}: round {self.done + 1}")
                run_invocation(
                    target,
                    remote,
                    inv,
                    bench,
                    store,
                    progress,
                    prefix=session.payload_prefix,
                    cancel=cancel,
                    batch_offset=offset,
                )
                session.sample(f"after {inv.label}, round {self.done + 1}")
            self.done += 1
