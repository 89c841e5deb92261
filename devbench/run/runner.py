"""Execute a run: for each target, open a session, prepare, run the plan, restore.

Results are saved after every batch (ResultsStore), so a crash or Ctrl-C loses nothing
already measured; the device is restored on every exit path.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Protocol

from devbench.config import BenchmarkConfig, Config, TargetConfig
from devbench.device.lock import DeviceLock, acquire
from devbench.device.probe import probe
from devbench.device.restore import recover
from devbench.device.session import DeviceSession
from devbench.device.tuning import Change
from devbench.device.workdir import ensure_private
from devbench.errors import ConnectionLost, DevbenchError, TargetError
from devbench.run.eta import adaptive_remaining, arms_per_scenario, measured_arms, planned_forks
from devbench.payload.build import build, deploy, verified
from devbench.run.plan import Invocation, expected_forks, for_emulator, plan, resumed
from devbench.profile.runs import profile_target
from devbench.payload.events import event_record, exit_error, parse_event
from devbench.results.store import ResultsStore, new_results, now
from devbench.results.seal import seal_run
from devbench.targets import open_target
from devbench.run.signals import signals_deferred
from devbench.targets.base import Target, close_quietly


class Progress(Protocol):
    def target_started(self, target: str, total_forks: int) -> None: ...
    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None: ...
    def step(self, target: str, text: str) -> None: ...
    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None: ...
    def target_done(self, target: str, ok: bool, text: str) -> None: ...


class NoProgress:
    def target_started(self, target: str, total_forks: int) -> None: pass
    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None: pass
    def step(self, target: str, text: str) -> None: pass
    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None: pass
    def target_done(self, target: str, ok: bool, text: str) -> None: pass


@dataclass
class RunOutcome:
    run_dir: Path
    ok: bool
    status: str
    data: dict[str, Any]


PLACEBO_NOTE = ("A/A run (benchmark.placebo): the 'named' arm's VMAs carry no names, its names are cleared as in "
                "the unnamed arm; a difference between the arms is noise or bias, not the feature")


def make_run_id(name: str, when: datetime | None = None) -> str:
    when = when or datetime.now()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:40] or "run"
    return f"{when:%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(2)}"


def resume_run(run_dir: Path) -> tuple[Config, ResultsStore]:
    """An interrupted run folder, ready to go on: its recorded config and its results."""
    from devbench.cli.restore import config_of
    from devbench.results.store import load, now

    cfg = config_of(str(run_dir))
    data = load(str(run_dir))
    if data["run"].get("status") == "complete":
        raise DevbenchError(f"{run_dir}: the run is complete; nothing to resume")
    for e in data["errors"]:
        if e.get("kind") == "interrupted":
            e["resumed"] = True  # the interruption this resume answers
    data["run"].setdefault("resumed", []).append(now())
    data["run"]["status"] = "running"
    data["run"]["ended"] = None
    return cfg, ResultsStore(Path(run_dir) / "results.json", data)


def start_run(cfg: Config, output: str | None = None) -> tuple[Path, ResultsStore]:
    run_id = make_run_id(cfg.run.name)
    run_dir = Path(output or cfg.run.output).expanduser() / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    data = new_results(run_id, cfg.run.name, cfg.raw, cfg.file)
    seal_run(data["run"])  # restore and --resume obey this config only with this host's seal
    store = ResultsStore(run_dir / "results.json", data)
    return run_dir, store


class Cancelled(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM) while this target's worker was busy."""


class Cancel:
    """Shared by a run's workers. cancel() (from the main thread, on Ctrl-C or SIGTERM) marks the
    run interrupted and aborts every payload in flight; each worker then restores its device."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()

    def register(self, name: str, target: Target | None) -> None:
        with self._lock:
            if target is None:
                self._targets.pop(name, None)
            else:
                self._targets[name] = target

    def cancel(self) -> None:
        self.event.set()
        with self._lock:
            targets = list(self._targets.values())
        for t in targets:
            interrupt = getattr(t, "interrupt", None)
            if callable(interrupt):
                try:
                    interrupt()
                except Exception:  # the worker sees the connection end either way
                    pass

    def check(self) -> None:
        if self.event.is_set():
            raise Cancelled("interrupted")


def execute(cfg: Config, store: ResultsStore, progress: Progress | None = None, *, resume: bool = False) -> bool:
    """Run every target of cfg, all at once (one worker thread each); True when all planned
    samples were taken without errors. One target's failure does not stop the others."""
    progress = progress or NoProgress()
    status = "interrupted"
    try:
        if len(cfg.targets) == 1:  # in the main thread: Ctrl-C reaches the payload run directly
            ok = run_target(cfg, cfg.targets[0], store, progress, Cancel(), resume)
        else:
            ok = _run_concurrently(cfg, store, progress, resume)
        status = "complete" if ok else "failed"
    finally:
        store.finish(status)
    return ok


def _run_concurrently(cfg: Config, store: ResultsStore, progress: Progress, resume: bool = False) -> bool:
    cancel = Cancel()
    outcome: dict[str, bool] = {}
    crashes: list[BaseException] = []

    def worker(tcfg: TargetConfig) -> None:
        try:
            outcome[tcfg.name] = run_target(cfg, tcfg, store, progress, cancel, resume)
        except KeyboardInterrupt:
            outcome[tcfg.name] = False
        except BaseException as exc:  # a bug in devbench itself: the others go on, it is raised at the end
            outcome[tcfg.name] = False
            store.add_error(tcfg.name, None, None, "internal-error", f"{type(exc).__name__}: {exc}")
            crashes.append(exc)

    threads = [threading.Thread(target=worker, args=(t,), name=f"devbench-{t.name}", daemon=True) for t in cfg.targets]
    for th in threads:
        th.start()
    try:
        _join(threads)
    except KeyboardInterrupt:
        cancel.cancel()  # every worker stops its payload and restores its device
        while True:
            try:
                _join(threads)
                break
            except KeyboardInterrupt:
                continue  # restores are running: let them finish
        raise
    if crashes:
        raise crashes[0]
    return all(outcome.get(t.name, False) for t in cfg.targets)


def _join(threads: list[threading.Thread]) -> None:
    while any(th.is_alive() for th in threads):
        for th in threads:
            th.join(timeout=0.2)


def run_target(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress, cancel: Cancel | None = None,
               resume: bool = False) -> bool:
    cancel = cancel or Cancel()
    name = tcfg.name
    bench = cfg.benchmark
    progress.target_started(name, bench.forks * 2 * len(bench.scenarios))  # forks: auto: one round; plan() says more
    store.update_target(name, transport=tcfg.kind, status="connecting")
    errors_before = _errors_of(store, name)
    first_error = len(store.data["errors"])
    step = "connect"
    target: Target | None = None
    lock = None
    lock_left: DeviceLock | None = None  # not released (the connection was lost): released on reconnect
    try:
        progress.step(name, "connecting")
        target = open_target(tcfg, store.path.parent, lambda text: progress.step(name, text),
                             prebuild=lambda abi: build(abi, cfg.build))
        cancel.register(name, target)
        cancel.check()
        step = "work folder"
        ensure_private(target, target.workdir)  # type: ignore[attr-defined]
        step = "lock"
        with signals_deferred():  # taken and held in `lock` together, so that the finally below releases it
            lock = acquire(target, target.workdir, store.data["run"]["id"], lambda m: store.warn(name, m))  # type: ignore[attr-defined]
        for warning in getattr(target, "warnings", []):
            store.warn(name, warning)
        if hasattr(target, "info"):
            store.update_target(name, transport_info=target.info)  # type: ignore[attr-defined]
        step = "restore journal"
        recovery = recover(target, target.workdir, cfg.device)  # type: ignore[attr-defined]
        if recovery.journal is not None:
            store.warn(name, f"a previous run had left the device changed: {recovery.summary()}")
            if recovery.errors:
                raise TargetError(name, "restore journal", recovery.summary())
        step = "probe"
        progress.step(name, "probing")
        facts = probe(target, cfg.device.sysfs, cfg.device.procfs)
        store.update_target(name, facts=facts.to_json(), status="building")
        if facts.emulator or str(getattr(target, "serial", "")).startswith("emulator-"):
            store.warn(name, "Android emulator: emulator timings are not device timings")
            if bench.on_emulator == "smoke":
                bench = for_emulator(bench)
                store.warn(name, f"emulator smoke run: {bench.forks} forks in {bench.batches} batches per arm "
                                 "(benchmark.on_emulator: full runs the configured size)")
        step = "prepare"
        session = DeviceSession.open(target, facts, cfg.device, bench, store.data["run"]["id"], store.data["run"]["started"],
                                     profiling=cfg.profile.enabled)
        store.update_target(name, device=session.describe())
        for w in session.warnings:
            store.warn(name, w)
        if bench.placebo:
            store.warn(name, PLACEBO_NOTE)
        for r in session.refusals:
            if not any((e["target"], e["scenario"], e["arm"], e["kind"]) == (name, r.scenario, r.arm, r.kind) for e in store.data["errors"]):
                store.add_error(name, r.scenario, r.arm, r.kind, r.message, **r.data)
        invocations = plan(bench, {(r.scenario, r.arm) for r in session.refusals})
        if not invocations:
            raise TargetError(name, "prepare", "every scenario was refused before any change to the device (see the errors above)")
        if resume:
            invocations = resumed(invocations, bench, lambda sc, arm: store.batches_done(name, sc, arm))
            store.warn(name, f"resumed: {len(invocations)} payload invocation(s) left" if invocations else
                       "resumed: every batch was already measured")
            if not invocations:
                return _finish(store, name, first_error, errors_before, progress)
        progress.plan(name, planned_forks(bench, invocations), estimated=bench.adaptive is not None)
        step = "build payload"
        progress.step(name, f"building payload for {facts.abi}")
        payload = build(facts.abi, cfg.build)  # type: ignore[arg-type]
        step = "push payload"
        remote = deploy(target, payload, target.workdir)  # type: ignore[attr-defined]
        store.update_target(name, payload={"abi": payload.abi, "compiler": payload.compiler,
                                           "sha256": payload.sha256, "remote": remote}, status="preparing")
        step = "prepare"
        progress.step(name, "preparing the device")

        def record(changes: list[Change]) -> None:
            store.update_target(name, device_changes=[c.to_json() for c in changes])

        def restore_failed(message: str) -> None:
            store.add_error(name, None, None, "restore-failed", message)

        todo = invocations
        reconnects: list[dict[str, Any]] = []
        rounds = {"done": 0}  # adaptive sampling: rounds measured so far (kept across a reconnect)
        while True:
            try:
                with session.tuned(record, lambda m: store.warn(name, m), restore_failed):
                    store.update_target(name, status="running")
                    session.sample("before the first scenario" if not reconnects else "after reconnecting")
                    if bench.adaptive is not None:
                        _adaptive_rounds(target, remote, invocations, bench, store, progress, session, cancel, rounds)
                    for inv in (todo if bench.adaptive is None else []):
                        cancel.check()
                        run_invocation(target, remote, inv, bench, store, progress, prefix=session.payload_prefix, cancel=cancel)
                        session.sample(f"after {inv.scenario.name}" + ("" if inv.arm == "both" else f" ({inv.arm})"))
                        store.update_target(name, conditions=session.samples)
                    for w in session.throttle_warnings():
                        store.warn(name, w)
                    if cfg.profile.enabled:  # separate payload processes, after every timed one
                        cancel.check()
                        step = "profile"
                        profile_target(target, facts, cfg.profile, bench, invocations, remote, session.payload_prefix, store,
                                       lambda text: progress.step(name, text), root=session.root.ok)
                    step = "restore"
                break
            except ConnectionLost as lost:
                # the device's journal still holds the old values: reconnect, restore from it,
                # prepare again and go on from the first batch not measured (the interrupted one)
                step = "reconnect"
                started = time.monotonic()
                target = _reconnect(cfg, tcfg, store, progress, target, cancel, lost)
                session.target = target
                recovery = recover(target, target.workdir, cfg.device)  # type: ignore[attr-defined]
                todo = resumed(invocations, bench, lambda sc, arm: store.batches_done(name, sc, arm)) if bench.adaptive is None else []
                reconnects.append({"lost": lost.message, "during": lost.step, "time": now(),
                                   "after_s": round(time.monotonic() - started, 1), "restored": recovery.summary(),
                                   "redo": [{"scenario": i.scenario.name, "arm": i.arm,
                                             "from_batch": int(dict(zip(i.args, i.args[1:])).get("--first-batch", 0))} for i in todo]})
                store.update_target(name, reconnects=reconnects)
                store.warn(name, f"connection lost during {lost.step} ({lost.message}); reconnected after "
                                 f"{reconnects[-1]['after_s']} s, device restored from its journal and prepared again; "
                                 f"{len(todo)} invocation(s) redone from their first unmeasured batch")
                step = "prepare"
        step = "finish"
    except KeyboardInterrupt:
        store.update_target(name, status="interrupted")
        store.add_error(name, None, None, "interrupted", f"interrupted during {step}")
        raise
    except DevbenchError as exc:
        kind = _STEP_KINDS.get(exc.step) if isinstance(exc, TargetError) else None
        extra = {"console_tail": exc.console_tail} if hasattr(exc, "console_tail") else {}
        store.add_error(name, None, None, kind or _kind_of(step), str(exc), **extra)
    finally:
        cancel.register(name, None)
        if target is not None:
            try:
                if lock is not None:
                    with signals_deferred():  # the lock goes whole, even on a second Ctrl-C
                        lock.release()
            except DevbenchError:
                lock_left = lock
            try:
                target.close()
            except DevbenchError as exc:  # e.g. a labgrid place that could not be released
                store.warn(name, f"closing the target: {exc}")
            except Exception:  # closing a dead connection must not hide the real outcome
                pass
    if any(e["kind"] == "restore-failed" for e in store.data["errors"][first_error:] if e["target"] == name):
        _restore_on_reconnect(cfg, tcfg, store, progress, lock_left)
    return _finish(store, name, first_error, errors_before, progress)


def _finish(store: ResultsStore, name: str, first_error: int, errors_before: int, progress: Progress) -> bool:
    # ok: no error of this target, except an interruption that a resume has answered
    ok = not any(e["target"] == name and not e.get("resumed") for e in store.data["errors"])
    store.update_target(name, status="ok" if ok else "failed")
    last = [e["message"] for e in store.data["errors"] if e["target"] == name][-1:]
    progress.target_done(name, ok, "done" if ok else last[0])
    return ok


def _adaptive_rounds(target: Target, remote: str, invocations: list[Invocation], bench: BenchmarkConfig, store: ResultsStore,
                     progress: Progress, session: DeviceSession, cancel: Cancel, rounds: dict[str, int]) -> None:
    """forks: auto: a round (`forks` in `batches`) per scenario at a time, until each
    scenario's CI is as narrow as asked or max_forks is reached; why each stopped is recorded."""
    from devbench.run.adaptive import precisions, still_needed

    a = bench.adaptive
    assert a is not None
    name = target.name
    scenarios = list(dict.fromkeys(inv.scenario.name for inv in invocations))
    while True:
        prec = precisions(store.data, name) if rounds["done"] else {}
        why = still_needed(prec, scenarios, a.precision_pct, a.max_forks)
        progress.plan(name, adaptive_remaining({sc: p.forks for sc, p in prec.items()},
                                               {sc: p.half_width_pct for sc, p in prec.items()}, why,
                                               measured_arms(store.data, name, arms_per_scenario(invocations)),
                                               bench.forks, a.max_forks, a.precision_pct,
                                               {sc: max(0, p.forks - bench.forks) for sc, p in prec.items()}),
                      estimated=True)
        store.update_target(name, adaptive={
            "precision_pct": a.precision_pct, "max_forks": a.max_forks, "rounds": rounds["done"],
            "forks_per_round": bench.forks, "scenarios": {sc: {**(prec[sc].to_json() if sc in prec else {}), "stopped": why[sc] or None}
                                                          for sc in scenarios}})
        pending = [inv for inv in invocations if not why[inv.scenario.name]]
        if not pending:
            return
        offset = rounds["done"] * bench.batches
        for inv in pending:
            cancel.check()
            progress.step(name, f"{inv.scenario.name}: round {rounds['done'] + 1}")
            run_invocation(target, remote, inv, bench, store, progress, prefix=session.payload_prefix, cancel=cancel,
                           batch_offset=offset)
            session.sample(f"after {inv.scenario.name}, round {rounds['done'] + 1}")
        rounds["done"] += 1


RECONNECT_BACKOFF_S = (1, 2, 4, 8, 15)


def _reconnect(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress, old: Target, cancel: Cancel,
               lost: ConnectionLost) -> Target:
    """A new connection to the device, retried with backoff for device.reconnect_timeout_s;
    then the target fails cleanly (TargetError, step "reconnect")."""
    name = tcfg.name
    close_quietly(old)
    if tcfg.kind not in ("adb", "ssh", "local", "labgrid"):
        raise TargetError(name, "reconnect", f"connection lost ({lost.message}); a {tcfg.kind} device started by devbench is not reconnected")
    deadline = time.monotonic() + cfg.device.reconnect_timeout_s
    attempt, last = 0, lost.message
    while time.monotonic() < deadline:
        cancel.check()
        wait = RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)]
        progress.step(name, f"connection lost: reconnecting (attempt {attempt + 1}, in {wait} s)")
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        attempt += 1
        try:
            target = open_target(tcfg, store.path.parent, lambda text: progress.step(name, text))
        except TargetError as exc:
            last = exc.message
            continue
        cancel.register(name, target)
        return target
    raise TargetError(name, "reconnect", f"device gone: no connection within {cfg.device.reconnect_timeout_s} s "
                                         f"({attempt} attempts; last: {last}); the journal on the device is replayed by "
                                         "`devbench restore` or the next run")


def kernel_last_words(target: Target, remote: str) -> list[str]:
    """The kernel log's last lines about the payload (OOM kills, segfaults), where readable."""
    name = posixpath.basename(remote)[:15]
    try:
        res = target.run(["sh", "-c", 'dmesg 2>/dev/null | tail -n 200 | grep -F -e "$1" | tail -n 3', "sh", name], timeout=20)
    except TargetError:
        return []
    return [ln.strip()[:300] for ln in res.stdout.splitlines() if ln.strip()]


def _restore_on_reconnect(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress,
                          lock: DeviceLock | None = None) -> None:
    """A restore that failed (typically: the connection dropped) is tried once more on a new
    connection, from the journal on the device; once that restored everything, the run's device
    lock, if the lost connection could not release it, is released on the new one. QEMU guests
    and emulators die with the run."""
    name = tcfg.name
    if tcfg.kind not in ("adb", "ssh", "local", "labgrid"):
        return
    progress.step(name, "restore failed: reconnecting to restore from the device's journal")
    target = None
    try:
        target = open_target(tcfg, store.path.parent, lambda text: progress.step(name, text))
        recovery = recover(target, target.workdir, cfg.device)  # type: ignore[attr-defined]
        store.warn(name, f"restore on reconnect: {recovery.summary()}")
        if lock is not None and not recovery.errors:
            with signals_deferred():
                replace(lock, target=target).release()
    except DevbenchError as exc:
        store.warn(name, f"restore on reconnect failed ({exc}); run `devbench restore` when the device is back")
    finally:
        close_quietly(target)


def _errors_of(store: ResultsStore, target: str) -> int:
    return sum(1 for e in store.data["errors"] if e["target"] == target)


_STEP_KINDS = {"boot": "boot-failed", "build kernel": "kernel-build-failed", "guest image": "guest-image-failed",
               "start emulator": "emulator-failed", "restore": "restore-failed"}


def _kind_of(step: str) -> str:
    return {"connect": "connect-failed", "lock": "device-busy", "reconnect": "device-lost", "probe": "probe-failed", "build payload": "build-failed",
            "push payload": "push-failed", "prepare": "device-error", "restore": "restore-failed",
            "restore journal": "restore-failed", "work folder": "work-folder-refused"}.get(step, "target-error")


class EventSink:
    """Turns one payload process's events into results (samples, checks, errors)."""

    def __init__(self, store: ResultsStore, target: str, inv: Invocation, progress: Progress, batch_offset: int = 0):
        self.batch_offset = batch_offset  # adaptive rounds: batch numbers go on from the rounds before
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
        what = event_record(event, self.target, self.inv.scenario.name, self.inv.arm, self.batch_offset)
        if what is None:
            return
        kind, rec = what
        if kind == "sample":
            self.store.add_sample(**rec)
            self.counts[rec["arm"]] = self.counts.get(rec["arm"], 0) + len(rec["fork_ns"])
            self.progress.batch(self.target, rec["scenario"], rec["arm"], len(rec["fork_ns"]))
        elif kind == "check":
            self.store.add_check(rec)
        elif kind == "error":
            self.errors += 1
            self.store.add_error(**rec)
        else:
            self.ended = True


def run_invocation(target: Target, remote: str, inv: Invocation, bench: BenchmarkConfig, store: ResultsStore, progress: Progress,
                   prefix: tuple[str, ...] = (), cancel: Cancel | None = None, batch_offset: int = 0) -> None:
    timeout = bench.timeout_s
    sink = EventSink(store, target.name, inv, progress, batch_offset)
    sc = inv.scenario.name
    progress.step(target.name, f"{sc}: setting up {inv.arm}")
    started = time.monotonic()
    try:
        run = getattr(target, "run_payload", target.run)  # a target may run the payload its own way (QEMU detach)
        res = run([*prefix, *verified(remote), *inv.args], timeout=timeout, on_line=sink)
    except TargetError as exc:
        if cancel is not None:
            cancel.check()  # aborted by an interrupt of the run, not a failure of the device
        if "connection lost" in exc.message:
            raise ConnectionLost(target.name, f"{sc} ({inv.arm})", exc.message) from None
        store.add_error(target.name, sc, None if inv.arm == "both" else inv.arm, "run-failed", str(exc))
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
                        exit_code=res.exit_code, seconds=round(time.monotonic() - started, 3), **extra)
    elif res.exit_code == 0:
        expected = expected_forks(bench, inv.args)
        for arm, n in sink.counts.items():
            if n != expected:
                store.add_error(target.name, sc, arm, "incomplete", f"{n} of {expected} fork samples received for {arm}")
    if sink.noise:
        store.warn(target.name, f"{sc}: {len(sink.noise)} unparsed payload output line(s), first: {sink.noise[0]!r}")

