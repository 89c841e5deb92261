"""labgrid: a place acquired from a labgrid coordinator, its NetworkService reached over SSH."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devbench.targets.kinds.base import Kind, Opening
from devbench.targets.kinds.values import device_dir, host_port, matching, own_section, refuse_secrets

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.config.yamlsrc import Section
    from devbench.targets.base import Target
    from devbench.targets.kinds.adb import LabHost


@dataclass(frozen=True)
class LabgridOptions:
    place: str  # the labgrid place to acquire; its NetworkService is reached over SSH
    coordinator: str | None = None  # HOST:PORT of labgrid-coordinator; None: $LG_COORDINATOR or 127.0.0.1:20408
    resource: str | None = None  # which NetworkService, when the place has several (its name in the place)
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    workdir: str = "/tmp/devbench"
    connect_timeout: float = 15.0


labgrid_name = matching(r"[A-Za-z0-9][A-Za-z0-9._+:-]{0,127}",
                        "a labgrid name of letters, digits, '.', '_', '+', ':', '-'")


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> LabgridOptions:
    sec = own_section(target, "labgrid")
    opts = LabgridOptions(
        place=sec.value("place", labgrid_name),
        coordinator=sec.value("coordinator", host_port, None),
        resource=sec.value("resource", labgrid_name, None),
        key=sec.string("key", None),
        known_hosts=sec.string("known_hosts", "~/.ssh/known_hosts"),
        workdir=sec.value("workdir", device_dir, "/tmp/devbench"),
        connect_timeout=float(sec.integer("connect_timeout", 15, lo=1, hi=600)),
    )
    refuse_secrets(sec)
    sec.done()
    return opts


def open_labgrid(cfg: TargetConfig, opening: Opening) -> Target:
    from devbench.targets.labgrid import LabgridTarget

    assert isinstance(cfg.options, LabgridOptions)
    return LabgridTarget(cfg.name, cfg.options, opening.step)


def device_key(o: LabgridOptions) -> tuple[Any, ...]:
    return ("labgrid", o.coordinator, o.place)


KIND = Kind("labgrid", LabgridOptions, parse, open_labgrid, device_key)
