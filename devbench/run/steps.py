"""One target's run, as the steps of "How a run works" (docs/how-a-run-works.md):

    start -> connect -> work folder -> lock -> recover -> probe -> plan -> build -> push
    -> prepare -> measure (-> reconnect -> prepare -> measure) -> profile -> restore
    -> release -> finish

Each step is a function of the target's run (TargetRun) marked with its Step: the name an
interruption is reported with ("interrupted during probe") and the error kind its failures
are recorded as. A failure carries its step out of the step (in_step), so run_target records
it without keeping a stage of its own. A transport may name a finer step of its own (a QEMU
guest's boot, its kernel build, ...): TARGET_STEP_KINDS.

Results are saved after every batch (ResultsStore), so a crash or Ctrl-C loses nothing
already measured; the device is restored on every way out.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, TypeVar

from devbench.config import Config, TargetConfig
from devbench.device.actions import for_the_clock
from devbench.device.lock import acquire
from devbench.device.probe import Facts, probe
from devbench.device.restore import recover
from devbench.device.session import DeviceSession
from devbench.device.tuning import Change
from devbench.device.workdir import ensure_private
from devbench.errors import ConnectionLost, DevbenchError, TargetError
from devbench.payload.build import Payload, build, deploy
from devbench.profile.runs import profile_target
from devbench.results.errors import failure_text
from devbench.results.rows import vmas_field
from devbench.results.store import ResultsStore, now
from devbench.run.boots import Boot
from devbench.run.context import Cancel, Progress, TargetRun
from devbench.run.eta import planned_forks
from devbench.run.invoke import AdaptiveRounds, run_invocation
from devbench.run.plan import Invocation, for_emulator, plan, resumed
from devbench.run.signals import signals_deferred
from devbench.targets import open_target, started_by_devbench
from devbench.targets.base import Target, close_quietly


@dataclass(frozen=True)
class Step:
    name: str  # what an interruption or a failure says it happened during
    kind: str  # the error kind of its failures in results.json


START = Step("start", "target-error")
CONNECT = Step("connect", "connect-failed")
WORK_FOLDER = Step("work folder", "work-folder-refused")
LOCK = Step("lock", "device-busy")
RECOVER = Step("restore journal", "restore-failed")
PROBE = Step("probe", "probe-failed")
PLAN = Step("plan", "device-error")
BUILD = Step("build payload", "build-failed")
PUSH = Step("push payload", "push-failed")
PREPARE = Step("prepare", "device-error")
MEASURE = Step("measure", "device-error")
PROFILE = Step("profile", "target-error")
RESTORE = Step("restore", "restore-failed")
RECONNECT = Step("reconnect", "device-lost")
FINISH = Step("finish", "target-error")

# a transport's own steps (TargetError.step) whose failures have a kind of their own
TARGET_STEP_KINDS = {"boot": "boot-failed", "build kernel": "kernel-build-failed", "guest image": "guest-image-failed",
                     "start emulator": "emulator-failed", "restore": "restore-failed"}

PLACEBO_NOTE = ("A/A run (benchmark.placebo): the 'named' arm's VMAs carry no names, its names are cleared as in "
                "the unnamed arm; a difference between the arms is noise or bias, not the feature")
RECONNECT_BACKOFF_S = (1, 2, 4, 8, 15)
_STEP = "devbench_step"  # the attribute that carries a failure's step


@contextlib.contextmanager
def in_step(step: Step) -> Iterator[None]:
    """What fails or is interrupted inside is marked with `step` (the innermost step wins)."""
    try:
        yield
    except BaseException as exc:
        if not isinstance(getattr(exc, _STEP, None), Step):
            setattr(exc, _STEP, step)
        raise


def step_of(exc: BaseException) -> Step:
    """The step a failure or an interruption happened in (FINISH: between the steps)."""
    step = getattr(exc, _STEP, None)
    return step if isinstance(step, Step) else FINISH


P = ParamSpec("P")
R = TypeVar("R")


def step(s: Step) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Marks a function as a step of the run: what fails in it is a failure of `s`."""
    def mark(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run_step(*args: P.args, **kwargs: P.kwargs) -> R:
            with in_step(s):
                return fn(*args, **kwargs)
        return run_step
    return mark


def run_target(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress, cancel: Cancel | None = None,
               resume: bool = False, boot: Boot | None = None) -> bool:
    """One target's run, step by step. True when the target ended without errors. A failure is
    recorded as an error of its step's kind (the other targets go on); the device is restored
    and its lock released on every way out, Ctrl-C included. boot: one boot of a kernel of a
    target's kernels: (devbench.run.kernels), its samples marked with it."""
    run = TargetRun(cfg, tcfg, store, progress, cancel or Cancel(), resume, boot=boot)
    start(run)
    try:
        connect(run)
        make_work_folder(run)
        take_lock(run)
        recover_journal(run)
        facts = probe_device(run)
        session, invocations = plan_target(run, facts)
        if invocations:
            remote = push_payload(run, build_payload(run, facts))
            measure_with_reconnects(run, session, facts, invocations, remote)
    except KeyboardInterrupt as exc:
        store.update_target(run.name, status="interrupted")
        store.add_error(run.name, None, None, "interrupted", f"interrupted during {step_of(exc).name}")
        raise
    except DevbenchError as exc:
        record_failure(run, exc)
    finally:
        release(run)
    if any(e["kind"] == "restore-failed" for e in store.data["errors"][run.first_error:] if e["target"] == run.name):
        restore_on_reconnect(run)
    return finish(run)


@step(START)
def start(run: TargetRun) -> None:
    """The target announced: on the progress display (forks: auto: one round; the plan says
    more) and in results.json."""
    bench = run.bench
    run.progress.target_started(run.name, bench.forks * 2 * len(bench.scenarios) * len(bench.vma_counts))
    run.store.update_target(run.name, transport=run.tcfg.kind, status="connecting")
    if run.boot is not None:
        run.say(f"kernel {run.store.target(run.name).get('kernel') or run.name}: {run.boot.describe()}")


@step(CONNECT)
def connect(run: TargetRun) -> Target:
    """Connect to (or boot) the device. A QEMU guest builds the payload while it boots (its
    errors are left for the build step to report)."""
    run.say("connecting")
    run.target = open_target(run.tcfg, run.store.path.parent, run.say, prebuild=lambda abi: build(abi, run.cfg.build),
                             label=run.label)
    run.cancel.register(run.name, run.target)
    run.cancel.check()
    return run.target


@step(WORK_FOLDER)
def make_work_folder(run: TargetRun) -> None:
    """The device folder devbench owns, private to the user devbench runs as there."""
    ensure_private(run.connected, run.connected.workdir)


@step(LOCK)
def take_lock(run: TargetRun) -> None:
    """The device lock (no other run changes the device meanwhile); then what the transport
    has to say: its warnings and how it was reached."""
    target = run.connected
    with signals_deferred():  # taken and held in run.lock together, so that release() releases it
        run.lock = acquire(target, target.workdir, run.store.data["run"]["id"], run.warn)
    for warning in target.warnings:
        run.warn(warning)
    if target.info:
        run.store.update_target(run.name, transport_info=dict(target.info))


@step(RECOVER)
def recover_journal(run: TargetRun) -> None:
    """Undo what a dead run left changed on the device (its journal), before anything is read."""
    target = run.connected
    recovery = recover(target, target.workdir, run.cfg.device)
    if recovery.journal is not None:
        run.warn(f"a previous run had left the device changed: {recovery.summary()}")
        if recovery.errors:
            raise TargetError(run.name, "restore journal", recovery.summary())


@step(PROBE)
def probe_device(run: TargetRun) -> Facts:
    """What the device is (kernel, ABI, Android or not, CPUs, clocks), recorded. An Android
    emulator is said to be one, and its run is a smoke run unless benchmark.on_emulator is full."""
    target = run.connected
    run.say("probing")
    facts = probe(target, run.cfg.device.sysfs, run.cfg.device.procfs)
    run.store.update_target(run.name, facts=facts.to_json(), status="building")
    serial = str(target.info.get("serial", ""))
    if facts.emulator or target.transport == "emulator" or serial.startswith("emulator-"):
        run.warn("Android emulator: emulator timings are not device timings")
        if run.bench.on_emulator == "smoke":
            run.bench = for_emulator(run.bench)
            run.warn(f"emulator smoke run: {run.bench.forks} forks in {run.bench.batches} batches per arm "
                     "(benchmark.on_emulator: full runs the configured size)")
    return facts


@step(PLAN)
def plan_target(run: TargetRun, facts: Facts) -> tuple[DeviceSession, list[Invocation]]:
    """Decide before changing anything: root, what fits (a refused scenario is an error of the
    run), the tuning and its warnings; then the payload invocations (on resume: those left,
    possibly none)."""
    store, name, bench = run.store, run.name, run.bench
    session = DeviceSession.open(run.connected, facts, run.cfg.device, bench, store.data["run"]["id"],
                                 store.data["run"]["started"], profiling=run.cfg.profile.enabled)
    store.update_target(name, device=session.describe())
    for w in for_the_clock(session.warnings, run.connected.info.get("clock")):
        run.warn(w)
    if bench.placebo:
        run.warn(PLACEBO_NOTE)
    for r in session.refusals:
        if not any((e["target"], e["scenario"], e["arm"], e["kind"], e.get("vmas")) ==
                   (name, r.scenario, r.arm, r.kind, r.vmas) for e in store.data["errors"]):
            store.add_error(name, r.scenario, r.arm, r.kind, r.message, **r.data, **vmas_field(r.vmas))
    invocations = plan(bench, {r.key for r in session.refusals})
    if not invocations:
        raise TargetError(
            name, "prepare", "every scenario was refused before any change to the device (see the errors above)"
        )
    if run.resume:
        invocations = resumed(invocations, bench, run.done)
        run.warn(f"resumed: {len(invocations)} payload invocation(s) left" if invocations else
                 "resumed: every batch was already measured")
    if invocations:
        run.progress.plan(name, planned_forks(bench, invocations), estimated=bench.adaptive is not None)
    return session, invocations


@step(BUILD)
def build_payload(run: TargetRun, facts: Facts) -> Payload:
    """The payload for the device's ABI (cached by content)."""
    run.say(f"building payload for {facts.abi}")
    return build(facts.abi, run.cfg.build)


@step(PUSH)
def push_payload(run: TargetRun, payload: Payload) -> str:
    """The payload on the device, in its work folder (its sha256 checked there); recorded."""
    target = run.connected
    remote = deploy(target, payload, target.workdir)
    run.store.update_target(run.name, payload={"abi": payload.abi, "compiler": payload.compiler,
                                               "sha256": payload.sha256, "remote": remote}, status="preparing")
    return remote


def measure_with_reconnects(run: TargetRun, session: DeviceSession, facts: Facts, invocations: list[Invocation],
                            remote: str) -> None:
    """Prepare, measure, profile and restore; when the connection is lost, reconnect, restore
    from the device's journal, prepare again and go on from the first batch not measured."""
    run.say("preparing the device")
    todo = invocations
    rounds = AdaptiveRounds(invocations, run.bench)  # forks: auto: the rounds done, kept across a reconnect
    reconnected: list[dict[str, Any]] = []
    while True:
        try:
            with in_step(RESTORE):  # leaving the block restores the device
                with contextlib.ExitStack() as tuned:
                    with in_step(PREPARE):
                        tuned.enter_context(session.tuned(
                            lambda changes: record_changes(run, changes), run.warn,
                            lambda message: run.store.add_error(run.name, None, None, "restore-failed", message)))
                    measure(run, session, todo, rounds, remote, after_reconnect=bool(reconnected))
                    if run.cfg.profile.enabled:  # separate payload processes, after every timed one
                        profile(run, session, facts, invocations, remote)
            return
        except ConnectionLost as lost:
            todo = reconnect_and_recover(run, session, invocations, lost, reconnected)


def record_changes(run: TargetRun, changes: list[Change]) -> None:
    run.store.update_target(run.name, device_changes=[c.to_json() for c in changes])


@step(MEASURE)
def measure(run: TargetRun, session: DeviceSession, todo: list[Invocation], rounds: AdaptiveRounds, remote: str,
            after_reconnect: bool = False) -> None:
    """The payload invocations, the device's clocks and temperatures read between them; with
    forks: auto, rounds until each scenario is precise enough."""
    store, name, bench, target = run.store, run.name, run.bench, run.connected
    store.update_target(name, status="running")
    session.sample("after reconnecting" if after_reconnect else "before the first scenario")
    if bench.adaptive is not None:
        rounds.run(target, remote, store, run.progress, session, run.cancel)
    else:
        for inv in todo:
            run.cancel.check()
            run_invocation(target, remote, inv, bench, store, run.progress, prefix=session.payload_prefix,
                           cancel=run.cancel, batch_offset=run.boot.batch_offset if run.boot else 0,
                           boot=run.boot.slot if run.boot else None)
            session.sample(f"after {inv.label}" + ("" if inv.arm == "both" else f" ({inv.arm})"))
            store.update_target(name, conditions=session.samples)
    for w in session.throttle_warnings():
        run.warn(w)


@step(PROFILE)
def profile(run: TargetRun, session: DeviceSession, facts: Facts, invocations: list[Invocation], remote: str) -> None:
    """Profiled payload processes (profile.enabled), apart from the timed ones; of a kernel
    booted several times, in its last boot."""
    run.cancel.check()
    if run.boot is not None and not run.boot.last_of_kernel:
        return
    profile_target(run.connected, facts, run.cfg.profile, run.bench, invocations, remote, session.payload_prefix,
                   run.store, run.say, root=session.root.ok)


@step(RECONNECT)
def reconnect_and_recover(run: TargetRun, session: DeviceSession, invocations: list[Invocation], lost: ConnectionLost,
                          reconnected: list[dict[str, Any]]) -> list[Invocation]:
    """After a lost connection: a new one, the device restored from its journal (which still
    holds the old values), and the invocations still to run from their first unmeasured batch
    (forks: auto goes on with its rounds). Recorded in results.json (reconnects) and as a warning."""
    started = time.monotonic()
    target = reconnect(run, lost)
    session.target = target
    recovery = recover(target, target.workdir, run.cfg.device)
    bench, name = run.bench, run.name
    todo = resumed(invocations, bench, run.done) if bench.adaptive is None else []
    reconnected.append(
        {
            "lost": lost.message,
            "during": lost.step,
            "time": now(),
            "after_s": round(time.monotonic() - started, 1),
            "restored": recovery.summary(),
            "redo": [
                {
                    "scenario": i.scenario.name,
                    **vmas_field(i.vmas if i.sweep else None),
                    "arm": i.arm,
                    "from_batch": int(dict(zip(i.args, i.args[1:], strict=False)).get("--first-batch", 0)),
                }
                for i in todo
            ],
        }
    )
    run.store.update_target(name, reconnects=reconnected)
    run.warn(f"connection lost during {lost.step} ({lost.message}); reconnected after "
             f"{reconnected[-1]['after_s']} s, device restored from its journal and prepared again; "
             f"{len(todo)} invocation(s) redone from their first unmeasured batch")
    return todo


def reconnect(run: TargetRun, lost: ConnectionLost) -> Target:
    """A new connection to the device, retried with backoff for device.reconnect_timeout_s;
    then the target fails cleanly (TargetError, step "reconnect")."""
    name, tcfg, timeout_s = run.name, run.tcfg, run.cfg.device.reconnect_timeout_s
    close_quietly(run.target)
    if started_by_devbench(tcfg):
        raise TargetError(name, "reconnect", f"connection lost ({lost.message}); a {tcfg.kind} device started by "
                                             "devbench is not reconnected")
    deadline = time.monotonic() + timeout_s
    attempt, last = 0, lost.message
    while time.monotonic() < deadline:
        run.cancel.check()
        wait = RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)]
        run.say(f"connection lost: reconnecting (attempt {attempt + 1}, in {wait} s)")
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        attempt += 1
        try:
            target = open_target(tcfg, run.store.path.parent, run.say)
        except TargetError as exc:
            last = exc.message
            continue
        run.target = target
        run.cancel.register(name, target)
        return target
    raise TargetError(
        name,
        "reconnect",
        f"device gone: no connection within {timeout_s} s "
        f"({attempt} attempts; last: {last}); the journal on the device is replayed by "
        "`devbench restore` or the next run",
    )


def record_failure(run: TargetRun, exc: DevbenchError) -> None:
    """A failure as an error of the target: the kind of the transport's own step, else of the run's step."""
    kind = TARGET_STEP_KINDS.get(exc.step) if isinstance(exc, TargetError) else None
    extra = {"console_tail": exc.console_tail} if hasattr(exc, "console_tail") else {}
    run.store.add_error(run.name, None, None, kind or step_of(exc).kind, str(exc), **extra)


def release(run: TargetRun) -> None:
    """Let go of the device: its lock released (whole, even on a second Ctrl-C), the connection
    closed. A lock the lost connection could not release is kept for restore_on_reconnect."""
    run.cancel.register(run.name, None)
    if run.target is None:
        return
    try:
        if run.lock is not None:
            with signals_deferred():
                run.lock.release()
    except DevbenchError:
        run.lock_left = run.lock
    try:
        run.target.close()
    except DevbenchError as exc:  # e.g. a labgrid place that could not be released
        run.warn(f"closing the target: {exc}")
    except Exception:  # closing a dead connection must not hide the real outcome
        pass


def restore_on_reconnect(run: TargetRun) -> None:
    """A restore that failed (typically: the connection dropped) is tried once more on a new
    connection, from the journal on the device; once that restored everything, the run's device
    lock, if the lost connection could not release it, is released on the new one. QEMU guests
    and emulators die with the run."""
    if started_by_devbench(run.tcfg):
        return
    run.say("restore failed: reconnecting to restore from the device's journal")
    target = None
    try:
        target = open_target(run.tcfg, run.store.path.parent, run.say)
        recovery = recover(target, target.workdir, run.cfg.device)
        run.warn(f"restore on reconnect: {recovery.summary()}")
        if run.lock_left is not None and not recovery.errors:
            with signals_deferred():
                replace(run.lock_left, target=target).release()
    except DevbenchError as exc:
        run.warn(f"restore on reconnect failed ({exc}); run `devbench restore` when the device is back")
    finally:
        close_quietly(target)


def finish(run: TargetRun) -> bool:
    """The target's outcome: ok when it has no error, except an interruption a resume answered."""
    store, name = run.store, run.name
    ok = not any(e["target"] == name and not e.get("resumed") for e in store.data["errors"])
    store.update_target(name, status="ok" if ok else "failed")
    run.progress.target_done(name, ok, "done" if ok else failure_text(store.data["errors"], name, run.bench.sweep))
    return ok
