"""`devbench run`: a run of a config (or a LAVA farm's run), its report, exports and exit code."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from devbench.cli.lava import cmd_lava_run, is_lava_run
from devbench.cli.parser import (
    EXIT_CONDITIONS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_USAGE,
    default_config,
)
from devbench.cli.reports import gate_code
from devbench.cli.signals import TERMINATING, on_signal
from devbench.run.signals import signals_deferred

if TYPE_CHECKING:
    from devbench.analysis import Analysis


def cmd_run(args: argparse.Namespace) -> int:
    from devbench.config import load_config, with_overrides
    from devbench.report.html import write_report
    from devbench.report.table import render_text
    from devbench.run import prefetch
    from devbench.run.runner import execute, resume_run, start_run
    from devbench.targets.labhost import expand

    if args.lava or (args.resume and is_lava_run(args.resume)):
        return cmd_lava_run(args)
    if args.resume:
        if args.config or args.target or args.output or args.serial or args.overrides:
            print(
                "devbench: error: --resume takes the run folder alone (its config is in its results.json)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        cfg, store = resume_run(Path(args.resume))
        cfg = expand(cfg)
        run_dir = Path(args.resume)
    else:
        cfg = expand(with_overrides(load_config(args.config or default_config(), args.overrides), targets=args.target,
                                    output=args.output, serial=args.serial))
        run_dir, store = start_run(cfg)
        _link_latest(run_dir)
    for sig in TERMINATING:
        signal.signal(sig, on_signal)
    prefetch.for_a_run()  # scipy.stats and the report's templates load while the devices work
    print(f"devbench: run {run_dir}", file=sys.stderr)
    store.on_warning = _print_warning  # as they happen; again under the table at the end
    interrupted = False
    try:
        if args.quiet or not sys.stderr.isatty():
            from devbench.run.progress import LineProgress
            from devbench.run.runner import NoProgress

            ok = execute(cfg, store, LineProgress() if not args.quiet else NoProgress(), resume=bool(args.resume))
        else:
            from devbench.run.progress import RichProgress

            with RichProgress() as progress:
                ok = execute(cfg, store, progress, resume=bool(args.resume))
    except KeyboardInterrupt as exc:
        interrupted = True
        ok = False
        if store.data["run"]["status"] == "running":  # interrupted before the run got going
            store.finish("interrupted")
        print(f"devbench: interrupted ({exc or 'SIGINT'}); device restored, results kept; go on with: "
              f"devbench run --resume {run_dir}", file=sys.stderr)
    analysis = None
    try:
        with signals_deferred():  # the device is done with; the report is written whole, then a signal counts
            from devbench.analysis import analyze

            analysis = store.analysis or analyze(store.data)  # the statistics, once for every output
            report = write_report(store.data, run_dir, analysis)
            print(render_text(store.data, analysis=analysis), end="")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # everything is written: a signal from here on comes too late to stop anything, and
        # must not turn a finished run's exit code into a death by signal. Ignored, not
        # handled: Python puts the default action back for its own handlers as it exits
        # (main() puts an in-process caller's handlers back)
        for sig in (*TERMINATING, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
    print(f"devbench: results {run_dir / 'results.json'}\ndevbench: report {report}", file=sys.stderr)
    took = took_line(store.data.get("run") or {})
    if took:
        print(took, file=sys.stderr)
    _export(args, store.data, analysis)
    if interrupted:
        return EXIT_INTERRUPTED
    # a required condition not met comes first: no number of such a run is to be trusted,
    # whether it regressed or a scenario failed (both are still printed)
    conditions_unmet = _unmet(store.data, args.strict, cfg.device.require)
    gate = None if analysis is None else gate_code(analysis, args)
    if not ok and args.quiet:  # no progress display said which target failed, or why
        _print_failures(store.data)
    if conditions_unmet:
        return EXIT_CONDITIONS
    if gate == EXIT_REGRESSION:
        return EXIT_REGRESSION
    # a failed target before a gate that could not decide: the failure is why it could not
    return EXIT_FAILED if not ok else gate or EXIT_OK


def took_line(run: dict) -> str | None:
    """The run's wall time from results.json: run.started (or, resumed, the last run.resumed) to
    run.ended."""
    from datetime import datetime

    from devbench.run.eta import format_duration

    resumed = run.get("resumed") if isinstance(run.get("resumed"), list) else None
    key, start = ("run.resumed[-1]", resumed[-1]) if resumed else ("run.started", run.get("started"))
    try:
        seconds = (datetime.fromisoformat(run["ended"]) - datetime.fromisoformat(str(start))).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None
    return f"devbench: took {format_duration(seconds)} ({key} {start} to run.ended {run['ended']} in results.json)"


def _print_failures(data: dict) -> None:
    """Each failed target and every cause, one line each (what the progress display's FAILED says)."""
    from devbench.results.errors import failure_text
    from devbench.results.rows import is_sweep

    for t in data.get("targets") or []:
        if isinstance(t, dict) and t.get("status") == "failed":
            why = failure_text(data.get("errors") or [], str(t.get("name")), is_sweep(data))
            print(f"devbench: {t.get('name')} FAILED: {why}", file=sys.stderr)


def _print_warning(target: str, message: str) -> None:
    from devbench.textsafe import shown

    print(shown(f"devbench: warning: {target}: {message}"), file=sys.stderr)


def _unmet(data: dict, strict: bool, require: Sequence[str]) -> bool:
    """--strict / device.require: print each required condition a warning broke; True if any."""
    from devbench.results.strict import STRICT, unmet

    found = unmet(data, STRICT if strict else require)
    for u in found:
        print(f"devbench: not met: {u.line()}", file=sys.stderr)
    return bool(found)


def _link_latest(run_dir: Path) -> None:
    from devbench.results.outfiles import link_latest

    problem = link_latest(run_dir)
    if problem:
        print(f"devbench: warning: {problem}", file=sys.stderr)


def _export(args: argparse.Namespace, data: dict, analysis: Analysis | None) -> None:
    """run --json/--markdown/--csv PATH: the report's formats, each written whole."""
    from devbench.analysis.gate import metrics_of
    from devbench.report.outputs import run_output
    from devbench.results.outfiles import write_whole

    for fmt in ("json", "markdown", "csv"):
        path = getattr(args, fmt, None)
        if path is None or analysis is None:
            continue
        try:
            text = run_output(data, analysis, fmt, args.fail_on_regression, metrics_of(args.gate_exit))
            write_whole(Path(path), text)
        except OSError as exc:  # the run and its results are kept; only this export is missing
            print(f"devbench: --{fmt} {path}: not written ({exc.strerror or exc})", file=sys.stderr)
            continue
        print(f"devbench: {fmt} {path}", file=sys.stderr)
