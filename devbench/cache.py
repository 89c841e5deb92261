"""devbench's build caches: each entry built once per machine, keyed by what determines it.

Under ``$DEVBENCH_CACHE``, else ``$XDG_CACHE_HOME/devbench``, else ``~/.cache/devbench``,
an entry ``NAME/`` is complete when ``NAME.complete`` exists (written last). ``NAME.lock``
(fcntl) serialises builders, across processes; a build happens in ``NAME.tmp-*`` beside the
entry and is renamed into place, so a half-built entry is never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from devbench.results.outfiles import atomic_write


def cache_root(sub: str = "") -> Path:
    env = os.environ.get("DEVBENCH_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "devbench"
    return base / sub if sub else base


def marker_path(entry: Path) -> Path:
    return entry.with_name(entry.name + ".complete")


def is_complete(entry: Path) -> bool:
    return entry.is_dir() and marker_path(entry).is_file()


@contextlib.contextmanager
def building(entry: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold the entry's lock; yield True when the caller must build it (it is not complete)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_name(entry.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait(f"waiting for another build of {entry.name}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield not is_complete(entry)


def fresh_tmp(entry: Path) -> Path:
    """A new build folder beside the entry, after clearing what an interrupted build left.

    Only call it while holding the entry's lock (inside building()).
    """
    if entry.exists():  # no marker: an interrupted build
        shutil.rmtree(entry)
    for stale in entry.parent.glob(entry.name + ".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=entry.name + ".tmp-", dir=entry.parent))


def mark_complete(entry: Path, info: dict[str, object]) -> None:
    """Write the entry's marker (JSON) atomically: the last step of a build."""
    marker = marker_path(entry)
    atomic_write(marker, json.dumps(info, indent=1) + "\n")
