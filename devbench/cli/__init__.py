"""The command line (`devbench`): main parses and dispatches to one module per command group;
the parser and the exit codes are devbench.cli.parser."""

from __future__ import annotations

from devbench.cli.main import COMMANDS, main

__all__ = ["COMMANDS", "main"]
