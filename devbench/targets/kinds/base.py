"""A target kind: its options, their parser, its transport class, and what identifies its device."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.config.yamlsrc import Section
    from devbench.targets.base import Target
    from devbench.targets.kinds.adb import LabHost

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Opening:
    """What opening a target may use: the run folder (a QEMU guest's console log), a progress
    line for its slow steps, and the payload build to start early (a guest that knows its ABI)."""

    run_dir: Path
    step: Callable[[str], None] | None = None
    prebuild: Callable[[str], object] | None = None
    label: str | None = None  # names the files of this opening (a kernel's boot: console-<label>-1.log)


@dataclass(frozen=True)
class Kind(Generic[OptionsT]):
    """One kind of target (the key of a target in the config: adb:, ssh:, ...).

    parse(target, lab_hosts): the options from the target's section (its own key in it),
    checked; open(cfg, opening): the connected (or booted) Target, its module imported only
    then; device_key(options): what identifies the device (two targets of one device are
    refused), None when it cannot tell; started_by_devbench: the device is devbench's own (a
    QEMU guest, an emulator) and ends with its run: never reconnected nor restored later."""

    name: str
    options: type[OptionsT]
    parse: Callable[[Section, Mapping[str, LabHost]], OptionsT]
    open: Callable[[TargetConfig, Opening], Target]
    device_key: Callable[[OptionsT], tuple[Any, ...] | None] = lambda options: None
    started_by_devbench: bool = False


def plain_opener(module: str, cls: str, options: type) -> Callable[[TargetConfig, Opening], Target]:
    """The opener of a transport class made from (name, options) alone; its module (and what it
    imports: paramiko, adbutils) is imported on the first open."""

    def open_plain(cfg: TargetConfig, opening: Opening) -> Target:
        assert isinstance(cfg.options, options), f"{cfg.name}: {type(cfg.options).__name__} options for {cls}"
        target: Target = getattr(importlib.import_module(module), cls)(cfg.name, cfg.options)
        return target

    return open_plain
