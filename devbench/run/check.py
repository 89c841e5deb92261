"""`devbench check CONFIG`: look before touching (as pyperf's `system show`).

For every target: connect, probe, and decide everything a run would decide before it changes
anything (root, the fit of each scenario, the tuning plan, the warnings, the payload build,
the device lock and a restore journal left by an earlier run), and estimate how long the run
would take. Nothing on the device is written: no lock is taken, no journal replayed, no work
folder made, no payload pushed, and `adb root` is not tried (it restarts adbd): what it would
give is read from ro.debuggable. The payload is built on this host (into the cache the run
uses); --no-build skips that.

The rendering is pure (render); check_target does the reading.
"""

from __future__ import annotations

import json
import posixpath
import socket
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devbench.config import BenchmarkConfig, Config, TargetConfig
from devbench.device.access import DeviceAccess
from devbench.device.actions import Action, TuningRequestError, for_the_clock, plan_actions
from devbench.device.conditions import device_warnings
from devbench.device.fit import Refusal, check_fit
from devbench.device.probe import Facts, probe
from devbench.device.procid import owner_from
from devbench.device.restore import journal_path, read_journal
from devbench.errors import BuildError, DevbenchError, TargetError
from devbench.results.errors import REFUSED, causes
from devbench.results.rows import vmas_field, with_vmas
from devbench.run.eta import EarlierRun, earlier_run, estimate_s, format_duration
from devbench.run.plan import Invocation, expected_forks, for_emulator, invocation_batches, plan
from devbench.targets import open_target
from devbench.targets.base import Target, close_quietly
from devbench.textsafe import shown


@dataclass
class Setting:
    setting: str
    now: str | None  # read from the device (None: not readable, or not a file)
    value: str
    why: str


@dataclass
class TargetCheck:
    name: str
    kind: str
    connection: dict[str, Any] = field(default_factory=dict)
    facts: Facts | None = None
    root: str = ""
    lock: str = ""
    journal: str = ""
    settings: list[Setting] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    forks: int = 0             # timed forks, all arms
    payload: str = ""
    estimate: str = ""
    problems: list[str] = field(default_factory=list)  # why the run could not start on this target
    left_out: str = ""         # what the run would refuse and still start ("unnamed arm only (...)")

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def readiness(self) -> str:
        """yes, NO, or what a run that starts would measure: "unnamed arm only (...)"."""
        return "NO" if self.problems else self.left_out or "yes"


def check(
    cfg: Config, *, build_payload: bool = True, earlier: Callable[[str], EarlierRun | None] | None = None
) -> list[TargetCheck]:
    from devbench.run.boots import kernel_targets

    with tempfile.TemporaryDirectory(prefix="devbench-check-") as scratch:  # a target with kernels: each kernel
        return [check_target(cfg, t, Path(scratch), build_payload=build_payload, earlier=earlier)
                for tcfg in cfg.targets for t in (kernel_targets(tcfg) or [tcfg])]


def check_target(cfg: Config, tcfg: TargetConfig, scratch: Path, *, build_payload: bool = True,
                 earlier: Callable[[str], EarlierRun | None] | None = None) -> TargetCheck:
    out = TargetCheck(tcfg.name, tcfg.kind)
    target: Target | None = None
    try:
        target = open_target(tcfg, scratch, None)
        out.connection = dict(target.info)
        out.warnings += [str(w) for w in target.warnings]  # the transport's, e.g. a QEMU guest's clock
        workdir = target.workdir
        facts = probe(target, cfg.device.sysfs, cfg.device.procfs)
        out.facts = facts
        root, prefix = _root_without_change(target, facts, cfg.device.root, out.problems)
        out.root = root_text(facts, root, prefix)
        out.lock = _lock_state(target, workdir, prefix, out.problems)
        out.journal = _journal_state(target, workdir, cfg, prefix, out.problems)
        bench = cfg.benchmark
        serial = str(target.info.get("serial", ""))
        if facts.emulator or target.transport == "emulator" or serial.startswith("emulator-"):
            out.warnings.append("Android emulator: emulator timings are not device timings")
            if bench.on_emulator == "smoke":
                bench = for_emulator(bench)
                out.warnings.append(f"emulator smoke run: {bench.forks} forks in {bench.batches} batches per arm")
        out.refusals = check_fit(bench, facts, cfg.device, root)
        try:
            tplan = plan_actions(facts, cfg.device, bench, root, profiling=cfg.profile.enabled)
        except TuningRequestError as exc:
            out.problems.append(str(exc))
            return out
        out.settings = [_setting(target, prefix, a) for a in tplan.actions]
        stopping = any(a.kind == "framework" for a in tplan.actions)
        out.warnings += for_the_clock(tplan.warnings + device_warnings(facts, cfg.device, framework_stopped=stopping),
                                      target.info.get("clock"))
        if bench.placebo:
            out.warnings.append("A/A run (benchmark.placebo): the 'named' arm's VMAs carry no names")
        invocations = plan(bench, {r.key for r in out.refusals})
        out.runs = [_describe(inv, bench) for inv in invocations]
        out.forks = sum(expected_forks(bench, inv.args) * len(inv.arms) for inv in invocations)
        if not invocations:
            out.problems.append("every scenario is refused (see above): the run would change nothing and fail")
        out.left_out = left_out(out.refusals, [sc.name for sc in bench.scenarios],
                                bench.vma_counts if bench.sweep else ())
        out.payload = _payload(facts, cfg, build_payload, out.problems)
        out.estimate = _estimate(tcfg.name, bench, invocations, earlier)
    except DevbenchError as exc:
        out.problems.append(str(exc))
    finally:
        close_quietly(target)
    return out


def left_out(refusals: list[Refusal], scenarios: list[str], counts: tuple[int, ...] = ()) -> str:
    """What the refusals take out of a run that still starts, in a few words: "unnamed arm only
    (no CONFIG_ANON_VMA_NAME)", "without 10 pages (not enough memory)", in a sweep "without
    10 pages @ 65536 VMAs"; "" when nothing is refused. counts: the sweep's VMA counts."""
    whole = [r for r in refusals if r.arm is None]
    named = [r for r in refusals if r.arm == "named"]

    def gone(s: str) -> bool:  # refused whole at every count
        return any(r.scenario == s and r.vmas is None for r in whole) or bool(counts) and all(
            any(r.scenario == s and r.vmas == v for r in whole) for v in counts)

    rest = [s for s in scenarios if not gone(s)]
    parts = []
    if rest and {r.scenario for r in named} >= set(rest):
        parts.append(f"unnamed arm only ({_why(named)})")
    elif named:
        parts.append(f"no named arm in {', '.join(r.scenario for r in named)} ({_why(named)})")
    if whole and rest:
        labels = dict.fromkeys(with_vmas(r.scenario, r.vmas, True) for r in whole)
        parts.append(f"without {', '.join(labels)} ({_why(whole)})")
    return ", ".join(parts)


def _why(refusals: list[Refusal]) -> str:
    return "; ".join(dict.fromkeys(REFUSED.get(r.kind, r.kind) for r in refusals))


def _root_without_change(target: Target, facts: Facts, mode: str, problems: list[str]) -> tuple[bool, tuple[str, ...]]:
    """(root, command prefix) as a run would get it, without `adb root` (which restarts adbd)."""
    from devbench.device.privilege import _uid

    if mode == "never":
        return False, ()
    if facts.uid == 0:
        return True, ()
    for prefix in (("su", "0"), ("sudo", "-n")):
        if _uid(target, prefix) == "0":
            return True, prefix
    if callable(getattr(target, "adb_root", None)) and facts.props.get("ro.debuggable") == "1":
        return True, ()  # the run's `adb root`: adbd restarts as root on a debuggable build
    if mode == "require":
        problems.append("device.root is 'require' but neither uid 0, adb root (ro.debuggable is not 1), `su 0` nor "
                        "`sudo -n` gives root")
    return False, ()


def root_text(facts: Facts | None, root: bool, prefix: tuple[str, ...]) -> str:
    if not root:
        return "none: no setting would be changed"
    if prefix:
        return f"`{' '.join(prefix)}`"
    return (
        "uid 0"
        if facts is not None and facts.uid == 0
        else "`adb root` (ro.debuggable=1; not tried by check: it restarts adbd)"
    )


def _lock_state(target: Target, workdir: str, prefix: tuple[str, ...], problems: list[str]) -> str:
    owner_file = posixpath.join(workdir, ".lock", "owner")
    res = target.run([*prefix, "sh", "-c", 'if [ -d "$1" ]; then echo held; cat "$2" 2>/dev/null; fi', "sh",
                      posixpath.dirname(owner_file), owner_file], timeout=30)
    text = res.stdout
    if not text.startswith("held"):
        return "free"
    try:
        held = json.loads(text[4:].strip() or "{}")
    except ValueError:
        held = {}
    held = held if isinstance(held, dict) else {}
    who = f"devbench pid {held.get('pid')} on {held.get('host')} (run {held.get('run_id')}, since {held.get('since')})"
    owner = owner_from(held)
    if held.get("host") == socket.gethostname() and owner is not None and not owner.alive():
        return f"stale ({who}, dead): the run would remove it"
    problems.append(f"the device is in use by {who} (lock {posixpath.dirname(owner_file)})")
    return f"held by {who}"


def _journal_state(target: Target, workdir: str, cfg: Config, prefix: tuple[str, ...], problems: list[str]) -> str:
    path = journal_path(workdir)
    journal = read_journal(DeviceAccess(target, prefix), path, cfg.device)
    if journal is None:
        return "none"
    what = (f"run {journal.run_id} (devbench pid {journal.pid} on {journal.host}, started {journal.started}) left "
            f"{len(journal.entries)} setting(s) changed ({', '.join(e.setting for e in journal.entries) or 'none'})")
    if journal.host == socket.gethostname() and journal.owner.alive():
        problems.append(f"the device is in use: {what}, and that devbench is alive")
        return what + "; its devbench is alive"
    return what + ": the run would put them back first"


def _setting(target: Target, prefix: tuple[str, ...], a: Action) -> Setting:
    now = None
    if a.kind == "file" and a.path:
        try:
            res = target.run([*prefix, "cat", a.path], timeout=20)
            now = res.stdout.strip() if res.ok else None
        except TargetError:
            now = None
    return Setting(a.setting, now, a.value, a.why)


def _describe(inv: Invocation, bench: BenchmarkConfig) -> str:
    arms = "both arms, interleaved" if inv.arm == "both" else f"{inv.arm} arm"
    return (f"{inv.label} ({inv.scenario.pages} pages per VMA): {arms}, "
            f"{expected_forks(bench, inv.args)} timed forks per arm")


def _payload(facts: Facts, cfg: Config, build_payload: bool, problems: list[str]) -> str:
    if not facts.abi:
        problems.append(f"no payload: the device's ABI is unknown (machine {facts.machine!r})")
        return "none: ABI unknown"
    if not build_payload:
        return f"{facts.abi} with {cfg.build.compiler} (not built: --no-build)"
    from devbench.payload.build import build

    try:
        p = build(facts.abi, cfg.build)
    except BuildError as exc:
        problems.append(f"payload build: {exc}")
        return f"{facts.abi} with {cfg.build.compiler}: FAILED"
    return f"{p.abi}, {p.compiler}, sha256 {p.sha256[:16]} (built on this host, cached for the run)"


def _estimate(name: str, bench: BenchmarkConfig, invocations: list[Invocation],
              earlier: Callable[[str], EarlierRun | None] | None) -> str:
    if bench.adaptive is not None:
        head = f"forks: auto: one round is {bench.forks} forks per arm; the rounds depend on the CI, "
    else:
        head = ""
    prev = earlier(name) if earlier else None
    if prev is None:
        return head + f"no estimate: no finished earlier run of {name!r} in the output folder to time it from " \
                      "(a run shows an ETA once it has timed a batch)"
    by_case: dict[tuple[int, int], int] = {}
    for inv in invocations:
        n = (expected_forks(bench, inv.args) + bench.warmup * invocation_batches(bench, inv.args)) * len(inv.arms)
        by_case[(inv.vmas, inv.scenario.pages)] = by_case.get((inv.vmas, inv.scenario.pages), 0) + n
    seconds = estimate_s(prev, by_case)
    if seconds is None:
        return head + (f"no estimate: the earlier run {prev.run_id} measured {_cases(prev.ns_per_fork)}, not this "
                       f"plan's {_cases(by_case)}")
    return head + (f"about {format_duration(seconds)} (from run {prev.run_id}: {format_duration(prev.wall_s)} in all, "
                   f"{format_duration(prev.rest_s)} of it boot, build, set-up and restore)")


def _cases(cases: Iterable[tuple[int, int]]) -> str:
    """(VMA count, pages) pairs as "65536 VMAs with pages [0, 1, 10]; 4096 VMAs with pages [0]"."""
    by_vmas: dict[int, list[int]] = {}
    for vmas, pages in sorted(cases):
        by_vmas.setdefault(vmas, []).append(pages)
    return "; ".join(f"{v} VMAs and pages {p}" for v, p in by_vmas.items()) or "nothing"


def latest_earlier(output: Path) -> Callable[[str], EarlierRun | None]:
    """The newest finished run of a target among the run folders in output (their names start
    with the time; at most 50 are read; results.json files are parsed, never obeyed)."""
    def find(target: str) -> EarlierRun | None:
        try:
            folders = sorted((p for p in output.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)[:50]
        except OSError:
            return None
        for folder in folders:
            f = folder / "results.json"
            try:
                if f.is_symlink() or not f.is_file() or f.stat().st_size > 256 * 2**20:
                    continue
                data = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found = earlier_run(data, target) if isinstance(data, dict) else None
            if found is not None:
                return found
        return None
    return find


def render(checks: list[TargetCheck], cfg: Config) -> str:
    """The check's report, plain text (pure)."""
    lines: list[str] = []
    for c in checks:
        lines.append(f"target {c.name} ({c.kind}{_conn(c.connection)})")
        f = c.facts
        if f is not None:
            lines.append(f"  device     {_device_line(f)}")
            lines.append(
                f"  kernel     {f.kernel_release}; CONFIG_ANON_VMA_NAME: "
                f"{ {True: 'y', False: 'not set', None: 'unknown (config not readable)'}[f.has_anon_vma_name] }"
                + (f"; debug options: {', '.join(f.debug_kernel_options)}" if f.debug_kernel_options else "")
            )
            lines.append(f"  root       {c.root}")
            lines.append(f"  lock       {c.lock}")
            lines.append(f"  journal    {c.journal}")
            if c.settings:
                for i, s in enumerate(c.settings):
                    now = f"{s.now} -> " if s.now is not None else ""
                    lines.append(f"  {'changes' if i == 0 else '':10} {s.setting}: {now}{s.value} ({s.why})")
            else:
                lines.append("  changes    none")
            for i, w in enumerate(c.warnings):
                lines.append(f"  {'warnings' if i == 0 else '':10} {w}")
            for i, cause in enumerate(causes(refusal_errors(c), c.name, cfg.benchmark.sweep)):  # one line per cause
                lines.append(f"  {'refused' if i == 0 else '':10} {cause.place()}: {cause.kind}: {cause.message}")
            for i, earlier in enumerate(c.runs):
                lines.append(f"  {'runs' if i == 0 else '':10} {earlier}")
            if c.runs:
                lines.append(f"  forks      {c.forks} timed forks in all")
            if c.payload:
                lines.append(f"  payload    {c.payload}")
            if c.estimate:
                lines.append(f"  duration   {c.estimate}")
        for p in c.problems:
            lines.append(f"  PROBLEM    {p}")
        lines.append(f"  ready      {c.readiness}")
    ready = all(c.ready for c in checks)
    partly = [f"{c.name}: {c.left_out}" for c in checks if c.ready and c.left_out]
    start = ("the run could not start as it is" if not ready else
             f"the run could start, with refusals ({'; '.join(partly)}): it would exit 1" if partly else
             "the run could start")
    lines.append(
        f"devbench check: {start} ({sum(c.ready for c in checks)} of {len(checks)} target(s) ready); "
        "nothing on the devices was changed"
    )
    return "\n".join(shown(line) for line in lines) + "\n"  # device strings shown, never obeyed


def refusal_errors(c: TargetCheck) -> list[dict[str, Any]]:
    """The target's refusals as the run would record them (its errors)."""
    return [{"target": c.name, "scenario": r.scenario, "arm": r.arm, "kind": r.kind, "message": r.message,
             **vmas_field(r.vmas)} for r in c.refusals]


def _conn(info: dict[str, Any]) -> str:
    keep = [
        f"{k} {v}"
        for k, v in info.items()
        if k in ("serial", "serial_from", "adb_server", "via", "ssh", "arch", "kernel")
        and isinstance(v, (str, int, float))
    ]
    return ": " + ", ".join(keep) if keep else ""


def _device_line(f: Facts) -> str:
    parts = [("Android" + (f" SDK {f.android_sdk}" if f.android_sdk else "")) if f.android else "Linux",
             f.model or "", f.abi or f.machine, f"{f.cpus} CPUs" if f.cpus else "",
             f"online {f.cpus_online}" if f.cpus_online else "",
             f"MemAvailable {f.mem_available_kb // 1024} MiB" if f.mem_available_kb is not None else "",
             f"page {f.page_size} B" if f.page_size else "",
             f"vm.max_map_count {f.max_map_count}" if f.max_map_count is not None else "",
             "governors " + ", ".join(f"{p.name}={p.governor}" for p in f.cpufreq) if f.cpufreq else "no cpufreq"]
    return ", ".join(p for p in parts if p)
