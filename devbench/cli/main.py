"""The command line: parse, call the library, map errors to exit codes (devbench.cli.parser).

One module per command group: run (run, and a LAVA farm's run), devices (check, restore,
kernel-config), lava (lava-job, lava-results), reports (report, compare).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence

from devbench.cli import devices, lava, reports
from devbench.cli import run as run_command
from devbench.cli.parser import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, _subparser, build_parser
from devbench.cli.signals import TERMINATING, on_signal
from devbench.errors import ConfigError, DevbenchError, ResultsError
from devbench.textsafe import shown

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": run_command.cmd_run,
    "check": devices.cmd_check,
    "kernel-config": devices.cmd_kernel_config,
    "restore": devices.cmd_restore,
    "lava-job": lava.cmd_lava_job,
    "lava-results": lava.cmd_lava_results,
    "compare": reports.cmd_compare,
    "report": reports.cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    """The program (argv None: sys.argv), or one command in-process (argv given: the caller's
    signal handlers are put back at the end)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the command's own parser: "(see devbench run --help)"
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command != "run" or argv is None:
        return _command(args)
    saved = {sig: signal.getsignal(sig) for sig in (*TERMINATING, signal.SIGINT)}
    try:
        return _command(args)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _command(args: argparse.Namespace) -> int:
    if args.command == "run":  # from the start: a signal while modules still load is an interrupt too
        for sig in TERMINATING:
            signal.signal(sig, on_signal)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:  # every error of the config, one line each (ConfigErrors)
        print("\n".join(shown(f"devbench: {line}") for line in str(exc).splitlines()), file=sys.stderr)
        return EXIT_USAGE
    except ResultsError as exc:
        print(shown(f"devbench: {exc}", lines=True), file=sys.stderr)
        return EXIT_USAGE
    except DevbenchError as exc:
        print(shown(f"devbench: {exc}", lines=True), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:  # before any device was touched (a run handles its own)
        print(f"devbench: interrupted ({exc or 'SIGINT'}) before the run started; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
