"""A run folder's recorded config is obeyed only when this host wrote it.

`devbench restore RUN` and `devbench run --resume RUN` read the config recorded in a run's
results.json and act on it as root: open its targets, write its device paths, build with its
compiler. A results.json is not only devbench's own output: `devbench lava-results` makes one
from a LAVA job log (what a device printed), and a run folder may sit in a shared folder that
others can write. So a config recorded by devbench is sealed: an HMAC-SHA256 of the config and
its file name, keyed by a secret that only this host's user has (``run-seal.key``, 0600, in
devbench's config folder; made on first use). A config without a seal, or whose seal does not
match, is refused in one line before anything is done: the user gives the YAML config instead.

The key's folder: ``$DEVBENCH_CONFIG_HOME``, else ``$XDG_CONFIG_HOME/devbench``, else
``~/.config/devbench``. Pure: :func:`seal_of` and :func:`verify` with the key passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from devbench.errors import ResultsError

ALG = "hmac-sha256"
KEY_NAME = "run-seal.key"


def key_dir() -> Path:
    explicit = os.environ.get("DEVBENCH_CONFIG_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "devbench"


def host_key(folder: Path | None = None) -> bytes:
    """This host's sealing key, made on first use (32 random bytes; the folder 0700, the file
    0600, created with O_EXCL so that a planted file or link is never taken for it)."""
    d = Path(folder) if folder is not None else key_dir()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = d / KEY_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise ResultsError(str(path), "the run-seal key must be this user's and private (mode 0600)")
        text = f.read().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ResultsError(str(path), "the run-seal key is not a hex key of at least 16 bytes")
    return key


def _message(config: Any, config_file: Any) -> bytes:
    return json.dumps({"config": config, "config_file": config_file}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def seal_of(config: Any, config_file: Any, key: bytes) -> dict[str, str]:
    """The seal recorded beside a config (pure)."""
    return {"alg": ALG, "key_id": hashlib.sha256(key).hexdigest()[:12],
            "mac": hmac.new(key, _message(config, config_file), hashlib.sha256).hexdigest()}


def verify(run: dict[str, Any], key: bytes, where: str) -> None:
    """Raise ResultsError (one line) unless ``run``'s config carries this host's seal (pure)."""
    seal = run.get("config_seal")
    hint = "give the run's YAML config instead"
    if not isinstance(seal, dict) or seal.get("alg") != ALG or not isinstance(seal.get("mac"), str):
        raise ResultsError(where, f"run.config is not sealed by devbench on this host (not obeyed): {hint}")
    want = seal_of(run.get("config"), run.get("config_file"), key)
    if not hmac.compare_digest(seal["mac"], want["mac"]):
        why = ("sealed with another host's key" if seal.get("key_id") != want["key_id"]
               else "changed since devbench recorded it")
        raise ResultsError(where, f"run.config is {why} (not obeyed): {hint}")


def seal_run(run: dict[str, Any], key: bytes | None = None) -> None:
    """Record the seal of ``run``'s config (in place)."""
    run["config_seal"] = seal_of(run.get("config"), run.get("config_file"), key if key is not None else host_key())
