"""The command line (`devbench`): main parses and dispatches to one module per command group."""

from __future__ import annotations

from devbench.cli.main import COMMANDS, main
from devbench.cli.parser import (
    EXIT_CONDITIONS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_USAGE,
    build_parser,
)

__all__ = ["COMMANDS", "EXIT_CONDITIONS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REGRESSION", "EXIT_USAGE",
           "build_parser", "main"]
