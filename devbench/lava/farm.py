"""`devbench run CONFIG --lava L.yaml [--lava M.yaml ...]`: one LAVA job per target, through
LAVA's API, into the usual run folder.

Per target (one thread each, so several device types run in parallel):
    a usable device of the type? -> publish the payload (payload dir:) -> build and submit the
    job -> progress: submitted, queued, running (on DEVICE), each devbench test case as LAVA
    records it, complete/incomplete -> fetch results and log (kept in lava/<target>/) ->
    devbench.lava.results.build_results -> merged into results.json, saved per target.

The run folder keeps what a rerun needs: lava-run.json (the config and options files, copied),
lava/<target>/job.json (the job id and its last state). `devbench run --resume RUN_DIR` takes
collected targets as they are, waits again for a job still running, and submits again for a
job that was cancelled or never submitted. Ctrl-C or SIGTERM cancels every submitted job that
has not finished.

Bounded waits, each named in its error: the options' queue_minutes (submitted but not running), the job's
own timeout plus WAIT_MARGIN_S (LAVA enforces the job's timeout; devbench stops waiting after
it), and each API call (api.LavaApi timeout).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devbench.config import Config, load_config
from devbench.config.yamlsrc import safe_load
from devbench.errors import DevbenchError
from devbench.lava.api import JobState, LavaApi, LavaApiError
from devbench.lava.cases import parse_cases
from devbench.lava.credentials import token_for
from devbench.lava.job import build_job
from devbench.lava.logparse import parse_log
from devbench.lava.options import LavaOptions, load_options
from devbench.lava.publish import publish_payload
from devbench.lava.results import build_results
from devbench.lava.testdef import CONFIG_SECTIONS
from devbench.results.outfiles import atomic_write
from devbench.results.seal import seal_run
from devbench.results.store import ResultsStore, new_results
from devbench.run.plan import first_arms

RUN_FILE = "lava-run.json"
WAIT_MARGIN_S = 600
USABLE_HEALTH = ("Good", "Unknown")
QUEUED = ("Submitted", "Scheduling", "Scheduled")
Say = Callable[[str, str], None]  # (target, text)


class LavaRunError(DevbenchError):
    """One target's LAVA failure, one line."""


@dataclass
class FarmTarget:
    name: str
    opts: LavaOptions
    folder: Path
    job: str | None = None
    state: JobState | None = None
    cases_seen: set[str] = field(default_factory=set)
    api: LavaApi | None = None

    def save(self) -> None:
        st = self.state
        atomic_write(self.folder / "job.json", json.dumps({
            "job": self.job, "state": st.state if st else None, "health": st.health if st else None,
            "device": st.device if st else None}, indent=1) + "\n")

    def load(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / "job.json").read_text())
        except (OSError, ValueError):
            return {}


def start(cfg_path: str | Path, option_paths: list[str], run_dir: Path) -> None:
    """A new LAVA run folder: the config and options copied in, so --resume needs nothing else."""
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "lava").mkdir()
    shutil.copyfile(cfg_path, run_dir / "config.yaml")
    names = []
    for i, p in enumerate(option_paths):
        name = f"options-{i}.yaml"
        shutil.copyfile(p, run_dir / "lava" / name)
        names.append(name)
    (run_dir / RUN_FILE).write_text(json.dumps({"config": "config.yaml", "options": names,
                                                "config_source": str(cfg_path),
                                                "options_source": [str(p) for p in option_paths]}, indent=1) + "\n")


def is_lava_run(run_dir: Path) -> bool:
    return (Path(run_dir) / RUN_FILE).is_file()


def run(run_dir: Path, say: Say, *, poll_s: float = 3.0) -> tuple[ResultsStore, bool]:
    """Run (or go on with) the LAVA run in run_dir. Returns (the results, every target ok).
    KeyboardInterrupt (Ctrl-C, SIGTERM) cancels the submitted jobs, then propagates."""
    meta = json.loads((run_dir / RUN_FILE).read_text())
    cfg = load_config(run_dir / meta["config"])
    targets = []
    for name in meta["options"]:
        opts = load_options(run_dir / "lava" / name)
        if opts.server is None:
            raise LavaRunError(f"{opts.file}: server: is required for devbench run --lava (url and user)")
        folder = run_dir / "lava" / opts.target
        folder.mkdir(exist_ok=True)
        targets.append(FarmTarget(opts.target, opts, folder))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise LavaRunError(f"two LAVA targets share a name: {names} (set target: in each options file)")
    data = new_results(run_dir.name, cfg.run.name, {k: cfg.raw[k] for k in CONFIG_SECTIONS if k in cfg.raw},
                       meta.get("config_source") or cfg.file)
    seal_run(data["run"])  # the user's config: restore and --resume may obey it
    data["run"]["first_arm"] = first_arms(cfg.benchmark)  # each scenario's ABBA order starts with this arm
    data["run"]["lava"] = {"targets": {t.name: t.opts.server.url for t in targets}}  # type: ignore[union-attr]
    store = ResultsStore(run_dir / "results.json", data)
    stop = threading.Event()
    ok: dict[str, bool] = {}

    def one(t: FarmTarget) -> None:
        try:
            part = _target(cfg, t, say, stop, poll_s, t.opts.queue_minutes)
        except (LavaRunError, LavaApiError, DevbenchError) as exc:
            say(t.name, f"FAILED: {exc}")
            part = _failed(cfg, t, str(exc))
        _merge(store, part)
        ok[t.name] = not any(e.get("target") in (t.name, None) for e in part["errors"])

    pool = ThreadPoolExecutor(max_workers=max(1, len(targets)), thread_name_prefix="lava")
    futures = [pool.submit(one, t) for t in targets]
    try:
        while not all(f.done() for f in futures):
            time.sleep(0.2)
        for f in futures:
            f.result()
    except KeyboardInterrupt:
        stop.set()
        _cancel_all(targets, say)
        pool.shutdown(wait=True, cancel_futures=True)
        store.finish("interrupted")
        raise
    pool.shutdown()
    all_ok = all(ok.get(t.name, False) for t in targets)
    store.finish("complete" if all_ok else "failed")
    return store, all_ok


# -- one target --------------------------------------------------------------------------------------

def _target(
    cfg: Config, t: FarmTarget, say: Say, stop: threading.Event, poll_s: float, queue_minutes: float
) -> dict[str, Any]:
    res, log = t.folder / "results.yaml", t.folder / "log.yaml"
    prev = t.load()
    if prev.get("job") and prev.get("health") in ("Complete", "Incomplete") and res.is_file() and log.is_file():
        t.job = str(prev["job"])
        say(t.name, f"LAVA job {t.job}: results already collected ({prev['health']})")
        return _collect(cfg, t, prev.get("health"), None)
    server = t.opts.server
    assert server is not None
    api = LavaApi(server.url, server.user, token_for(server))
    t.api = api  # for the cancel on an interrupt
    if prev.get("job"):
        st = api.state(str(prev["job"]))
        if not st.finished or st.health in ("Complete", "Incomplete"):
            t.job, t.state = st.job, st
            say(t.name, f"LAVA job {t.job}: taken up again ({st.state}, {st.health})")
    if t.job is None:
        _check_devices(api, t.opts)
        opts = publish_payload(cfg, t.opts, lambda text: say(t.name, text))
        job = build_job(cfg, opts)
        atomic_write(t.folder / "job.yaml", job.job_yaml())
        t.job = api.submit(job.job_yaml())
        t.state = None
        t.save()
        say(t.name, f"LAVA job {t.job}: submitted to {server.url} ({t.opts.device_type})")
    limit = _job_seconds(t.folder / "job.yaml") + WAIT_MARGIN_S
    st = _wait(api, t, say, stop, poll_s, queue_minutes * 60, limit)
    atomic_write(res, api.results_yaml(t.job))  # these and job.*: never through a link planted in the folder
    atomic_write(log, _full_log(api, t.job))
    t.state = st
    t.save()
    return _collect(cfg, t, st.health, st)


def _check_devices(api: LavaApi, opts: LavaOptions) -> None:
    devices = api.devices(opts.device_type)
    usable = [d for d in devices if d.get("health") in USABLE_HEALTH]
    if not usable:
        seen = ", ".join(f"{d.get('hostname')} {d.get('health')}" for d in devices) or "none registered"
        raise LavaRunError(f"no idle device of type {opts.device_type} (devices: {seen})")


def _wait(api: LavaApi, t: FarmTarget, say: Say, stop: threading.Event, poll_s: float, queue_s: float,
          limit_s: float) -> JobState:
    job = t.job
    assert job is not None, "waiting for a job not submitted"
    t0 = time.monotonic()
    queued_since = t0
    last = None
    while True:
        if stop.is_set():
            raise KeyboardInterrupt("stopped")
        st = api.state(job)
        t.state = st
        if (st.state, st.health) != last:
            last = (st.state, st.health)
            t.save()
            if st.state in QUEUED:
                say(t.name, f"LAVA job {t.job}: queued ({st.state})")
            elif st.state == "Running":
                say(t.name, f"LAVA job {t.job}: running on {st.device}")
        if st.state == "Running" or st.finished:
            _new_cases(api, t, say)
        if st.finished:
            say(t.name, f"LAVA job {t.job}: {st.health.lower()} after {time.monotonic() - t0:.0f} s")
            return st
        now = time.monotonic()
        if st.state not in QUEUED:
            queued_since = now
        if now - queued_since > queue_s:
            api.cancel(job)
            raise LavaRunError(f"LAVA job {t.job}: queue timeout: not running after {queue_s / 60:.0f} min "
                               f"(no free {t.opts.device_type} device); cancelled")
        if now - t0 > limit_s:
            api.cancel(job)
            raise LavaRunError(f"LAVA job {t.job}: wait timeout: not finished after {limit_s / 60:.0f} min; cancelled")
        stop.wait(poll_s)


def _new_cases(api: LavaApi, t: FarmTarget, say: Say) -> None:
    if t.job is None:
        return
    try:
        cases = parse_cases(safe_load(api.results_yaml(t.job)) or [], f"LAVA job {t.job}")
    except (LavaApiError, DevbenchError):
        return
    for c in cases:
        key = f"{c.suite}/{c.name}"
        if not c.is_devbench or key in t.cases_seen:
            continue
        t.cases_seen.add(key)
        m = f" {c.measurement:.3f} {c.units or ''}".rstrip() if c.measurement is not None else ""
        say(t.name, f"case {c.name}: {c.result}{m}")


def _full_log(api: LavaApi, job: str) -> str:
    return api.logs(job, 0)[1]


def _collect(cfg: Config, t: FarmTarget, health: str | None, st: JobState | None) -> dict[str, Any]:
    cases = parse_cases(safe_load((t.folder / "results.yaml").read_text()) or [], str(t.folder / "results.yaml"))
    log = parse_log(safe_load((t.folder / "log.yaml").read_text()) or [], str(t.folder / "log.yaml"))
    part = build_results(cases, log, cfg, target=t.name, sources={"results": str(t.folder / "results.yaml"),
                                                                   "log": str(t.folder / "log.yaml")})
    tgt = part["targets"][0]
    tgt["lava"].update({"server": t.opts.server.url if t.opts.server else None, "health": health,
                        "device": (st.device if st else t.load().get("device"))})
    if health == "Incomplete":  # one line for the target; LAVA's failed actions stay as warnings
        lava_failed = [e for e in part["errors"] if e.get("target") == t.name and e.get("kind") == "run-failed"]
        part["errors"] = [e for e in part["errors"] if e not in lava_failed]
        tgt["warnings"] += [e["message"] for e in lava_failed]
        job_msg = next(
            (e["message"][len("LAVA job: ") :] for e in lava_failed if e["message"].startswith("LAVA job: ")), None
        )
        why = (
            (job_msg or (st.failure if st else None) or "see lava/" + t.name + "/log.yaml")
            .strip()
            .splitlines()[0][:300]
        )
        part["errors"].append({"target": t.name, "scenario": None, "arm": None, "kind": "lava-incomplete",
                               "message": f"LAVA job {t.job} Incomplete: {why}", "time": None})
        tgt["status"] = "failed"
    return part


def _failed(cfg: Config, t: FarmTarget, message: str) -> dict[str, Any]:
    part = new_results("x", cfg.run.name, {}, cfg.file)
    part["targets"].append({"name": t.name, "transport": "lava", "status": "failed", "facts": None, "warnings": [],
                            "payload": None, "device": None, "device_changes": [], "conditions": [],
                            "lava": {"job": t.job, "device_type": t.opts.device_type,
                                     "server": t.opts.server.url if t.opts.server else None}})
    part["errors"].append({"target": t.name, "scenario": None, "arm": None, "kind": "lava-failed", "message": message,
                           "time": None})
    return part


def _merge(store: ResultsStore, part: dict[str, Any]) -> None:
    with store._lock:  # noqa: SLF001 - the store's own lock: one target's records go in whole
        d = store.data
        for key in ("targets", "checks", "samples", "errors"):
            d[key].extend(part[key])
        store.save()


def _cancel_all(targets: list[FarmTarget], say: Say) -> None:
    for t in targets:
        if t.api is None or t.job is None or (t.state is not None and t.state.finished):
            continue
        api = t.api.clone()  # the worker thread may be inside a call on t.api's connection
        try:
            api.cancel(t.job)
            say(t.name, f"LAVA job {t.job}: cancelled")
        except LavaApiError as exc:
            say(t.name, f"LAVA job {t.job}: cancel failed: {exc}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                t.state = api.state(t.job)
            except LavaApiError:
                break
            if t.state.finished:
                break
            time.sleep(1)
        t.save()


def _job_seconds(job_yaml: Path) -> float:
    try:
        job = safe_load(job_yaml.read_text()) or {}
        t = job["timeouts"]["job"]
        return sum(float(v) * {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}[k] for k, v in t.items())
    except (OSError, KeyError, TypeError, ValueError):
        return 3600.0
