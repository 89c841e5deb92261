"""scipy.stats, imported on first use: it takes about a second to import, and most of
devbench's commands (and a run until its statistics) never need it. A run loads it in the
background while it waits on its devices (devbench.run.prefetch)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

SCIPY_STATS = "scipy.stats"


class LazyModule:
    """A module that is imported when one of its attributes is first read (thread-safe: the
    import system's own locks)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(import_module(self._name), attr)


stats: Any = LazyModule(SCIPY_STATS)

