"""payload dir: + base_url: -> devbench builds the payload for the device's ABI and publishes it
where the device fetches it (used by `run --lava` and `lava-job`)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from devbench.config import Config
from devbench.lava.options import LavaOptions, PayloadSource
from devbench.results.outfiles import atomic_write


def publish_payload(cfg: Config, opts: LavaOptions, say: Callable[[str], None]) -> LavaOptions:
    """payload dir: + base_url: -> build the payload for the device's ABI, copy it into dir as
    forkbench-<sha12>, and return options with its url and sha256."""
    src = opts.payload
    if src.dir is None:
        return opts
    from devbench.payload.build import build

    abi = opts.payload_abi()
    assert abi is not None and src.base_url is not None
    built = build(abi, cfg.build)
    name = f"forkbench-{built.sha256[:12]}"
    dest = Path(src.dir) / name
    if not _published(dest, built.sha256):
        atomic_write(dest, Path(built.path).read_bytes(), mode=0o644)  # never through a planted link
    say(f"payload {abi} {built.sha256[:12]} published as {src.base_url.rstrip('/')}/{name}")
    return replace(opts, payload=PayloadSource(url=src.base_url.rstrip("/") + "/" + name, sha256=built.sha256))


def _published(dest: Path, sha256: str) -> bool:
    """dest is already this payload: a regular file (not a link) with its bytes."""
    try:
        if not stat.S_ISREG(os.lstat(dest).st_mode):
            return False
        return hashlib.sha256(dest.read_bytes()).hexdigest() == sha256
    except OSError:
        return False
