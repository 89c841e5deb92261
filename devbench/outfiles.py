"""Files a run leaves beside its run folder: the `latest` link in the output folder, and the
exports that `run --json/--markdown/--csv PATH` asks for.

The link is relative (`latest -> 20261205-061500-anon-vma-fork-1a2b`), so the output folder
can be moved or mounted elsewhere. It is made under a temporary name and renamed over the old
link in one step; a `latest` that is not a symlink (a file or folder of the user's) is never
replaced. Exports are written whole (a temporary file beside them, then renamed).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

LINK = "latest"


def link_latest(run_dir: Path) -> str | None:
    """Point OUTPUT/latest at run_dir; None when done, else why not (a warning, never fatal)."""
    parent = run_dir.parent
    link = parent / LINK
    if os.path.lexists(link) and not link.is_symlink():
        return f"{link} is not a symlink (a file or folder of yours): left alone, no '{LINK}' link"
    tmp = parent / f".{LINK}.{secrets.token_hex(4)}"
    try:
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return f"{link}: not linked to the run ({exc.strerror or exc})"
    return None


def write_whole(path: Path, text: str) -> None:
    """Write text to path in one step (no half-written export for a CI job to read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
