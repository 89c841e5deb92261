"""The target kinds, one module each (adb, ssh, local, qemu, emulator, labgrid): its options,
their parser and its transport class. KINDS is the one registry: the config parses a target
with its kind's parser, and open_target opens it with its kind's opener (which imports the
transport's module, and so adbutils, paramiko or labgrid, only for the kinds a run uses)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devbench.targets.kinds import adb, emulator, labgrid, local, qemu, ssh
from devbench.targets.kinds.base import Kind, Opening

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.targets.base import Target

# in the order a config error lists them
KINDS: dict[str, Kind[Any]] = {
    k.name: k for k in (adb.KIND, ssh.KIND, local.KIND, qemu.KIND, emulator.KIND, labgrid.KIND)
}


def open_target(cfg: TargetConfig, run_dir: Path | None = None, step: Callable[[str], None] | None = None,
                prebuild: Callable[[str], object] | None = None, label: str | None = None) -> Target:
    """Connect to (or boot) a configured target. Raises TargetError naming the device and step.

    ``prebuild(abi)``: builds the payload; a target that knows its ABI before it is up (a QEMU
    guest) calls it while it builds its kernel and image (its errors are left for the run's
    own build after the probe to report). ``label``: names the files the opening writes in
    the run folder (one boot of several of a target: its console log)."""
    kind = KINDS.get(cfg.kind)
    if kind is None:
        raise ValueError(f"unknown target kind {cfg.kind!r}")
    return kind.open(cfg, Opening(run_dir or Path("."), step, prebuild, label))


def started_by_devbench(cfg: TargetConfig) -> bool:
    """A device devbench starts itself (QEMU guest, emulator) ends with its run: it is never
    reconnected, nor restored afterwards."""
    return KINDS[cfg.kind].started_by_devbench


def device_key(cfg: TargetConfig) -> tuple[Any, ...] | None:
    """What identifies the device behind a target (None: cannot tell, e.g. a QEMU guest of its own)."""
    return KINDS[cfg.kind].device_key(cfg.options)


__all__ = ["KINDS", "Kind", "Opening", "device_key", "open_target", "started_by_devbench"]
