"""Checks of option values that name things on a device or a network (shared by the kinds)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devbench.config.yamlsrc import Section


def host_port(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}\Z", value):
        raise ValueError(f"must be host:port, got {value!r}")
    return value


def device_dir(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^/[A-Za-z0-9._/\-]+\Z", value) or "/../" in value + "/":
        raise ValueError(f"must be an absolute path of letters, digits, '.', '_', '-', '/' (got {value!r})")
    return value


def refuse_secrets(sec: Section) -> None:
    for secret in ("password", "passphrase"):
        if sec.has(secret):
            raise sec.error(secret, "secrets are not taken from configs; use a key (ssh-agent for passphrases)")


def matching(pattern: str, what: str) -> Callable[[Any], str]:
    """A value check: a string that matches pattern whole, else ValueError "must be WHAT (got VALUE)"."""
    regex = re.compile(pattern)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise ValueError(f"must be {what} (got {value!r})")
        return value

    return check


def own_section(target: Section, kind: str) -> Section:
    """A target's section of its kind (adb:, ssh:, ...): the config found it there."""
    sec = target.section(kind)
    assert sec is not None, f"a {kind} target without its {kind}: section"
    return sec
