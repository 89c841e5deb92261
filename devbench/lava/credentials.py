"""The LAVA API token: from the environment or lavacli's identity file, never from a config.

    $DEVBENCH_LAVA_TOKEN                        used as is, for any server
    $XDG_CONFIG_HOME/lavacli.yaml (~/.config)   lavacli's identities: {NAME: {uri, username, token}};
                                                the server's `identity:`, else the identity whose
                                                uri is the server's URL + RPC2 and username its user

The token is returned to the caller only; messages name where it was looked for, never it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from devbench.config.yamlsrc import safe_load
from devbench.errors import DevbenchError
from devbench.lava.options import ServerRef

ENV = "DEVBENCH_LAVA_TOKEN"


class TokenMissing(DevbenchError):
    """No token for a server: names where devbench looked."""


def identity_file(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "lavacli.yaml"


def token_for(server: ServerRef, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get(ENV):
        return env[ENV].strip()
    path = identity_file(env)
    try:
        data = safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise TokenMissing(
            f"no LAVA token for {server.url}: set ${ENV} or add a lavacli identity ({path} does not exist)"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TokenMissing(f"no LAVA token for {server.url}: {path} is unreadable ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise TokenMissing(f"no LAVA token for {server.url}: {path} is not a mapping of lavacli identities")
    want = server.url.rstrip("/") + "/RPC2"
    for name, ident in data.items():
        if not isinstance(ident, dict):
            continue
        if server.identity is not None:
            if name != server.identity:
                continue
        elif str(ident.get("uri", "")).rstrip("/") != want or ident.get("username") != server.user:
            continue
        token = ident.get("token")
        if isinstance(token, str) and token.strip():
            return token.strip()
        raise TokenMissing(f"lavacli identity {name!r} in {path} has no token")
    which = (
        f"identity {server.identity!r}"
        if server.identity
        else f"an identity with uri {want} and username {server.user}"
    )
    raise TokenMissing(f"no LAVA token for {server.url}: set ${ENV}, or add {which} to {path} (lavacli identities add)")
