"""The LAVA commands: `lava-job`, `lava-results`, and a run on a LAVA farm (`run --lava`)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from devbench.cli.parser import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, default_config
from devbench.cli.signals import TERMINATING, on_signal
from devbench.run.signals import signals_deferred
from devbench.textsafe import shown


def is_lava_run(run_dir: str) -> bool:
    from devbench.lava.farm import is_lava_run

    return is_lava_run(Path(run_dir))


def cmd_lava_run(args: argparse.Namespace) -> int:
    """`run CONFIG --lava L.yaml...` and `run --resume RUN_DIR` of such a run (devbench.lava.farm)."""
    from devbench.config import load_config
    from devbench.lava import farm
    from devbench.report.html import write_report
    from devbench.report.table import render_text
    from devbench.run.runner import make_run_id

    if args.resume:
        if args.config or args.lava or args.target or args.output:
            print(
                "devbench: error: --resume takes the run folder alone (its config and LAVA options are in it)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        run_dir = Path(args.resume)
    else:
        cfg_path = args.config or default_config()
        cfg = load_config(cfg_path)
        for p in args.lava:  # every options file is checked before anything is submitted
            from devbench.lava.options import load_options

            if load_options(p).server is None:
                print(f"devbench: {p}: server: is required for devbench run --lava (url and user)", file=sys.stderr)
                return EXIT_USAGE
        run_dir = Path(args.output or cfg.run.output) / make_run_id(cfg.run.name)
        farm.start(cfg_path, args.lava, run_dir)
    for sig in TERMINATING:
        signal.signal(sig, on_signal)
    print(f"devbench: run {run_dir}", file=sys.stderr)
    say = (
        (lambda target, text: None)
        if args.quiet
        else (lambda target, text: print(shown(f"[{target}] {text}"), file=sys.stderr))
    )
    interrupted = False
    try:
        store, ok = farm.run(run_dir, say)
    except KeyboardInterrupt as exc:
        print(
            f"devbench: interrupted ({exc or 'SIGINT'}); LAVA jobs cancelled, results kept in {run_dir}",
            file=sys.stderr,
        )
        interrupted = True
        from devbench.results.store import load

        store, ok = None, False
        data = load(run_dir)
    with signals_deferred():
        data = store.data if store is not None else data
        report = write_report(data, run_dir)
        print(render_text(data), end="")
        print(f"devbench: results {run_dir / 'results.json'}\ndevbench: report {report}", file=sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if ok else EXIT_FAILED


def cmd_lava_job(args: argparse.Namespace) -> int:
    from devbench.lava import lava_job
    from devbench.lava.options import load_options

    job, testdef = lava_job(args.config, load_options(args.lava))
    if args.validate:
        from devbench.lava.validate import ValidatorMissing, validate_job, validate_testdef

        try:
            problems = validate_job(job) + validate_testdef(testdef)
        except ValidatorMissing as exc:
            print(f"devbench: --validate: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if problems:
            for p in problems:
                print(f"devbench: LAVA validator: {p}", file=sys.stderr)
            return EXIT_FAILED
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    from devbench.results.outfiles import atomic_write  # never through a link planted at either name

    atomic_write(out / "job.yaml", job)
    atomic_write(out / "devbench.yaml", testdef)
    print(f"{out / 'job.yaml'}\n{out / 'devbench.yaml'}")
    return EXIT_OK


def cmd_lava_results(args: argparse.Namespace) -> int:
    from devbench.lava import lava_results
    from devbench.report.html import write_report
    from devbench.report.table import render_text
    from devbench.results.store import ResultsStore
    from devbench.run.runner import make_run_id

    data = lava_results(args.results, args.log, config_path=args.config)
    run_dir = Path(args.output) / make_run_id(str(data["run"].get("name") or "lava"))
    run_dir.mkdir(parents=True, exist_ok=False)
    store = ResultsStore(run_dir / "results.json", data)
    report = write_report(store.data, run_dir)
    print(render_text(store.data), end="")
    print(f"devbench: results {run_dir / 'results.json'}\ndevbench: report {report}", file=sys.stderr)
    return EXIT_OK
