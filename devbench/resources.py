"""Where the payload sources, templates and shipped configs live (installed or in the repo)."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """payloads/, templates/ or configs/: in the wheel under devbench/_data, else the repo root."""
    for base in (_PKG / "_data", _PKG.parent):
        path = base / name
        if path.is_dir():
            return path
    raise FileNotFoundError(f"devbench data folder {name!r} not found (broken install?)")


def cache_dir() -> Path:
    base = os.environ.get("DEVBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "devbench"
    )
    return Path(base)
