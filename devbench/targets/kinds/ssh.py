"""ssh: a Linux device reached over SSH (paramiko), with a key; never a password."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devbench.targets.kinds.base import Kind, plain_opener
from devbench.targets.kinds.values import device_dir, own_section, refuse_secrets

if TYPE_CHECKING:
    from devbench.config.yamlsrc import Section
    from devbench.targets.kinds.adb import LabHost


@dataclass(frozen=True)
class SshOptions:
    host: str
    port: int = 22
    user: str = "root"
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    workdir: str = "/tmp/devbench"
    connect_timeout: float = 15.0


def parse_options(sec: Section) -> SshOptions:
    """SSH options from their own section (a target's ssh:, a lab host's)."""
    opts = SshOptions(
        host=sec.string("host"),
        port=sec.integer("port", 22, lo=1, hi=65535),
        user=sec.string("user", "root"),
        key=sec.string("key", None),
        known_hosts=sec.string("known_hosts", "~/.ssh/known_hosts"),
        workdir=sec.value("workdir", device_dir, "/tmp/devbench"),
        connect_timeout=float(sec.integer("connect_timeout", 15, lo=1, hi=600)),
    )
    refuse_secrets(sec)
    return opts


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> SshOptions:
    sec = own_section(target, "ssh")
    opts = parse_options(sec)
    sec.done()
    return opts


def device_key(o: SshOptions) -> tuple[Any, ...]:
    return ("ssh", o.host, o.port, o.workdir)


KIND = Kind("ssh", SshOptions, parse, plain_opener("devbench.targets.ssh", "SshTarget", SshOptions), device_key)
