"""Execute a run: every target at once (one worker thread each), each through the steps of
devbench.run.steps (a target with kernels: each of its boots in turn, devbench.run.kernels);
Ctrl-C or SIGTERM cancels them all, and each restores its device.

Results are saved after every batch (ResultsStore), so a crash or Ctrl-C loses nothing
already measured; the device is restored on every exit path.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import datetime
from pathlib import Path

from devbench.config import Config, TargetConfig
from devbench.errors import DevbenchError
from devbench.results.seal import seal_run
from devbench.results.store import ResultsStore, new_results
from devbench.run.boots import compares_kernels
from devbench.run.context import Cancel, NoProgress, Progress
from devbench.run.kernels import run_kernels
from devbench.run.plan import first_arms
from devbench.run.steps import run_target

__all__ = ["NoProgress", "Progress", "execute", "make_run_id", "resume_run", "run_target", "start_run"]


def make_run_id(name: str, when: datetime | None = None) -> str:
    when = when or datetime.now()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:40] or "run"
    return f"{when:%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(2)}"


def resume_run(run_dir: Path) -> tuple[Config, ResultsStore]:
    """An interrupted run folder, ready to go on: its recorded config and its results."""
    from devbench.config import config_of
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
    config_file = Path(cfg.file)  # absolute, so that --resume finds relative patches from any folder
    data = new_results(run_id, cfg.run.name, cfg.raw, str(config_file.resolve()) if config_file.is_file() else cfg.file)
    seal_run(data["run"])  # restore and --resume obey this config only with this host's seal
    data["run"]["first_arm"] = first_arms(cfg.benchmark)  # each scenario's ABBA order starts with this arm
    store = ResultsStore(run_dir / "results.json", data)
    return run_dir, store


def execute(cfg: Config, store: ResultsStore, progress: Progress | None = None, *, resume: bool = False) -> bool:
    """Run every target of cfg, all at once (one worker thread each); True when all planned
    samples were taken without errors. One target's failure does not stop the others."""
    progress = progress or NoProgress()
    status = "interrupted"
    try:
        if len(cfg.targets) == 1:  # in the main thread: Ctrl-C reaches the payload run directly
            ok = run_one(cfg, cfg.targets[0], store, progress, Cancel(), resume)
        else:
            ok = _run_concurrently(cfg, store, progress, resume)
        status = "complete" if ok else "failed"
    finally:
        store.finish(status)
    return ok


def run_one(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress, cancel: Cancel,
            resume: bool = False) -> bool:
    """One configured target: its run, or with kernels: every boot of each kernel in turn."""
    if compares_kernels(tcfg):
        return run_kernels(cfg, tcfg, store, progress, cancel, resume)
    return run_target(cfg, tcfg, store, progress, cancel, resume)


def _run_concurrently(cfg: Config, store: ResultsStore, progress: Progress, resume: bool = False) -> bool:
    cancel = Cancel()
    outcome: dict[str, bool] = {}
    crashes: list[BaseException] = []

    def worker(tcfg: TargetConfig) -> None:
        try:
            outcome[tcfg.name] = run_one(cfg, tcfg, store, progress, cancel, resume)
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
