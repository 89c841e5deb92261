"""Transports: one protocol (base.Target), one module per transport, and the kinds of target
a config names (kinds/: each kind's options, parser and opener, in one registry)."""

from __future__ import annotations

from devbench.targets.base import CommandResult, Target, shell_line
from devbench.targets.kinds import open_target, started_by_devbench

__all__ = ["CommandResult", "Target", "open_target", "shell_line", "started_by_devbench"]
