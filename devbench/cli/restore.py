"""`devbench restore`: undo, from the journals on the devices, what a dead run left changed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import yaml

from devbench.config import Config, load_config, parse_text
from devbench.device.lock import force_release
from devbench.device.restore import recover
from devbench.errors import DevbenchError, ResultsError
from devbench.results.schema import read_results
from devbench.results.seal import host_key, verify
from devbench.targets import open_target
from devbench.targets.base import close_quietly


def config_of(source: str) -> Config:
    """A YAML config file, or a run folder / results.json (its recorded config, obeyed only when
    devbench sealed it on this host: devbench.results.seal)."""
    path = Path(source).expanduser()
    if path.is_dir() or path.name == "results.json":
        data = read_results(path)  # checked, without the summary's statistics (not needed here)
        where = str(path if path.name == "results.json" else path / "results.json")
        config = data["run"].get("config")
        if not isinstance(config, dict):
            raise ResultsError(where, "run.config is missing or not a mapping: give the run's YAML config instead")
        verify(data["run"], host_key(), where)
        return parse_text(yaml.safe_dump(config, sort_keys=False), f"{where} (run.config)")
    return load_config(path)


def restore_targets(cfg: Config) -> Iterator[tuple[str, bool, str]]:
    """(target, ok, one line) per target of cfg."""
    for tcfg in cfg.targets:
        if tcfg.kind in ("qemu", "emulator"):  # labgrid places are restored like SSH devices
            yield tcfg.name, True, f"nothing to restore: a {tcfg.kind} device started by devbench ends with its run"
            continue
        target = None
        try:
            with tempfile.TemporaryDirectory(prefix="devbench-restore-") as scratch:
                target = open_target(tcfg, Path(scratch), lambda text: None)
                rec = recover(target, target.workdir, cfg.device)  # type: ignore[attr-defined]
                unlocked = not rec.errors and force_release(target, target.workdir)  # type: ignore[attr-defined]
                yield tcfg.name, not rec.errors, rec.summary() + ("; removed its device lock" if unlocked else "")
        except DevbenchError as exc:
            yield tcfg.name, False, f"not restored: {exc}"
        finally:
            close_quietly(target)
