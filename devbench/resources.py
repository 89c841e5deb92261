"""Where the payload sources, templates and shipped configs live (installed or in the repo)."""

from __future__ import annotations

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
    from devbench.cache import cache_root

    return cache_root()
