"""Config: YAML -> validated, frozen dataclasses.

model      the dataclasses (a target's options are its kind's: devbench.targets.kinds)
load       file or text -> Config; every error names file:line:column and the field path
           (ConfigError), an unknown key with a suggestion when one is close
overrides  `--set key.path=value`, and the CLI's --target, --output, --serial
yamlsrc    YAML with the position of every value
"""

from __future__ import annotations

from devbench.config import model
from devbench.config.load import config_of, load_config, parse, parse_text
from devbench.config.model import *  # noqa: F403 (the dataclasses, as model.__all__ names them)
from devbench.config.overrides import unnamed_adb, with_overrides
from devbench.targets.kinds import KINDS
from devbench.targets.kinds.adb import AdbOptions, LabHost
from devbench.targets.kinds.emulator import EmulatorOptions
from devbench.targets.kinds.labgrid import LabgridOptions
from devbench.targets.kinds.local import LocalOptions
from devbench.targets.kinds.qemu import QEMU_ARCHES, QEMU_DAEMONS, QEMU_MACHINES, QemuOptions
from devbench.targets.kinds.ssh import SshOptions

__all__ = [*model.__all__, "KINDS", "QEMU_ARCHES", "QEMU_DAEMONS", "QEMU_MACHINES", "AdbOptions", "EmulatorOptions",
           "LabHost", "LabgridOptions", "LocalOptions", "QemuOptions", "SshOptions", "config_of", "load_config",
           "parse", "parse_text", "unnamed_adb", "with_overrides"]
