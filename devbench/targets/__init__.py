"""Transports: one protocol (base.Target), one module per transport."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from devbench.config import TargetConfig
from devbench.targets.base import CommandResult, Target, shell_line


def open_target(cfg: TargetConfig, run_dir: Path | None = None, step: Callable[[str], None] | None = None,
                prebuild: Callable[[str], object] | None = None) -> Target:
    """Connect to (or boot) a configured target. Raises TargetError naming the device and step.

    ``prebuild(abi)``: builds the payload; a target that knows its ABI before it is up (a QEMU
    guest) calls it while it builds its kernel and image (its errors are left for the run's
    own build after the probe to report)."""
    if cfg.kind == "adb" and cfg.options.via:  # type: ignore[union-attr]
        from devbench.targets.labhost import LabHostAdbTarget

        return LabHostAdbTarget(cfg.name, cfg.options)  # type: ignore[arg-type]
    if cfg.kind == "adb":
        from devbench.targets.adb import AdbTarget

        return AdbTarget(cfg.name, cfg.options)  # type: ignore[arg-type]
    if cfg.kind == "ssh":
        from devbench.targets.ssh import SshTarget

        return SshTarget(cfg.name, cfg.options)  # type: ignore[arg-type]
    if cfg.kind == "qemu":
        from devbench.targets.qemu import QemuTarget

        return QemuTarget(cfg.name, cfg.options, run_dir or Path("."), step, prebuild)  # type: ignore[arg-type]
    if cfg.kind == "emulator":
        from devbench.targets.emulator import EmulatorTarget

        return EmulatorTarget(cfg.name, cfg.options, run_dir or Path("."), step)  # type: ignore[arg-type]
    if cfg.kind == "labgrid":
        from devbench.targets.labgrid import LabgridTarget

        return LabgridTarget(cfg.name, cfg.options, step)  # type: ignore[arg-type]
    if cfg.kind == "local":
        from devbench.targets.local import LocalTarget

        return LocalTarget(cfg.name, cfg.options)  # type: ignore[arg-type]
    raise ValueError(f"unknown target kind {cfg.kind!r}")


__all__ = ["CommandResult", "Target", "open_target", "shell_line"]
