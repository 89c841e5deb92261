"""emulator: an Android emulator (an AVD) devbench starts, driven over adb; ends with its run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devbench.targets.kinds.base import Kind, Opening
from devbench.targets.kinds.values import device_dir, own_section

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.config.yamlsrc import Section
    from devbench.targets.base import Target
    from devbench.targets.kinds.adb import LabHost


@dataclass(frozen=True)
class EmulatorOptions:
    avd: str
    sdk: str | None = None  # Android SDK root; default $ANDROID_HOME, $ANDROID_SDK_ROOT, or `emulator` on PATH
    boot_timeout_s: int = 600
    server_host: str = "127.0.0.1"
    server_port: int | None = None
    workdir: str = "/data/local/tmp/devbench"


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> EmulatorOptions:
    sec = own_section(target, "emulator")
    avd = sec.string("avd")
    if not re.match(r"^[A-Za-z0-9._-]+\Z", avd):
        raise sec.error("avd", f"must be an AVD name of letters, digits, '.', '_', '-' (got {avd!r})")
    opts = EmulatorOptions(
        avd=avd,
        sdk=sec.string("sdk", None),
        boot_timeout_s=sec.integer("boot_timeout_s", 600, lo=5, hi=24 * 3600),
        server_host=sec.string("server_host", "127.0.0.1"),
        server_port=sec.integer("server_port", None, lo=1, hi=65535),
        workdir=sec.value("workdir", device_dir, "/data/local/tmp/devbench"),
    )
    sec.done()
    return opts


def open_emulator(cfg: TargetConfig, opening: Opening) -> Target:
    from devbench.targets.emulator import EmulatorTarget

    assert isinstance(cfg.options, EmulatorOptions)
    return EmulatorTarget(cfg.name, cfg.options, opening.run_dir, opening.step)


KIND = Kind("emulator", EmulatorOptions, parse, open_emulator, started_by_devbench=True)
