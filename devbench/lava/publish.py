"""payload dir: + base_url: -> devbench builds the payload for the device's ABI and publishes it
where the device fetches it (used by `run --lava` and `lava-job`)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

from devbench.config import Config
from devbench.lava.options import LavaOptions, PayloadSource


def publish_payload(cfg: Config, opts: LavaOptions, say: Callable[[str], None]) -> LavaOptions:
    """payload dir: + base_url: -> build the payload for the device's ABI, copy it into dir as
    forkbench-<sha12>, and return options with its url and sha256."""
    src = opts.payload
    if src.dir is None:
        return opts
    from devbench.payload import build

    abi = opts.payload_abi()
    assert abi is not None and src.base_url is not None
    built = build(abi, cfg.build)
    name = f"forkbench-{built.sha256[:12]}"
    dest = Path(src.dir) / name
    if not dest.is_file():
        tmp = dest.with_name(name + ".part")
        shutil.copyfile(built.path, tmp)
        tmp.chmod(0o644)
        tmp.replace(dest)
    say(f"payload {abi} {built.sha256[:12]} published as {src.base_url.rstrip('/')}/{name}")
    return replace(opts, payload=PayloadSource(url=src.base_url.rstrip("/") + "/" + name, sha256=built.sha256))
