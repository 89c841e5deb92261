"""local: this machine, in a private work folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devbench.targets.kinds.base import Kind, plain_opener
from devbench.targets.kinds.values import device_dir, own_section

if TYPE_CHECKING:
    from devbench.config.yamlsrc import Section
    from devbench.targets.kinds.adb import LabHost


@dataclass(frozen=True)
class LocalOptions:
    workdir: str | None = None


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> LocalOptions:
    sec = own_section(target, "local")
    opts = LocalOptions(workdir=sec.value("workdir", device_dir, None))
    sec.done()
    return opts


def device_key(o: LocalOptions) -> tuple[Any, ...]:
    return ("local", o.workdir)


KIND = Kind("local", LocalOptions, parse, plain_opener("devbench.targets.local", "LocalTarget", LocalOptions),
            device_key)
