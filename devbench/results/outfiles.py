"""Files a run leaves beside its run folder: the `latest` link in the output folder, and the
exports that `run --json/--markdown/--csv PATH` asks for.

The link is relative (`latest -> 20261205-061500-anon-vma-fork-1a2b`), so the output folder
can be moved or mounted elsewhere. It is made under a temporary name and renamed over the old
link in one step; a `latest` that is not a symlink (a file or folder of the user's) is never
replaced. Exports are written whole (a temporary file beside them, then renamed).

atomic_write() is how devbench writes a file on this machine (results.json, report.html, the
exports, a LAVA target's files, the published LAVA payload, cache markers): a new temporary file
made exclusively in the destination's folder (mkstemp: O_EXCL, so never a link someone planted
there), its mode set on the open file, the bytes written, then renamed onto the final name
(a rename replaces a link planted at that name, never writes through it). On an error the
temporary file is removed and the final name is left as it was.
"""

from __future__ import annotations

import os
import secrets
import tempfile
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
    atomic_write(path, text)


def atomic_write(path: str | Path, data: bytes | str, mode: int = 0o644, fsync: bool = False) -> Path:
    """Write data (str: UTF-8) to path through a new temporary file in its folder, renamed onto
    it: never through a link at path or at any predictable temporary name."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)  # replaces a link at path, never follows it
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
