"""The command line: parse, call the library, map errors to exit codes.

Exit codes: 0 ok, 1 run failure (a target or scenario failed; results kept), 2 bad config
or usage, 3 a significant regression above --fail-on-regression, 4 a required device condition
not met (--strict, device.require; results kept; before 3 and 1), 130 interrupted (device
restored, results kept).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Sequence

from devbench import __version__
from devbench.errors import ConfigError, DevbenchError, ResultsError
from devbench.run.signals import signals_deferred

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_REGRESSION = 3
EXIT_CONDITIONS = 4  # --strict / device.require: a warning broke a required condition (results written)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_USAGE, f"devbench: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="devbench", description="Benchmark the fork cost of named anonymous VMAs on real devices.")
    p.add_argument("--version", action="version", version=f"devbench {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, required=True)
    r = sub.add_parser("run", help="run a benchmark config on its targets")
    r.add_argument("config", nargs="?", help="YAML config (default: the built-in default device config)")
    r.add_argument("--target", action="append", metavar="NAME", help="run only this target (repeatable)")
    r.add_argument("--output", metavar="DIR", help="parent folder of the run folder (default: run.output)")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument("--lava", action="append", metavar="OPTIONS",
                   help="run on a LAVA farm: one job per options file (server, device_type, payload, qemu or deploy/boot); repeatable")
    r.add_argument("--resume", metavar="RUN_DIR", help="go on with an interrupted run: only the batches not measured yet")
    r.add_argument("--strict", action="store_true",
                   help="exit 4 unless clocks were locked, nothing throttled, the device is no emulator and its "
                        "framework was stopped (device.require picks some of these)")
    r.add_argument("-s", "--serial", metavar="SERIAL", help="the device of the adb target that names none (as adb -s; "
                                                            "default $ANDROID_SERIAL, else the only device attached)")
    _set_argument(r)
    for fmt in ("json", "markdown", "csv"):
        r.add_argument(f"--{fmt}", metavar="PATH", help=f"also write the report as {fmt} to PATH (as `devbench report --format {fmt}`)")
    _stats_arguments(r, margin=False)
    ck = sub.add_parser("check", help="connect and probe every target, change nothing: facts, planned changes, refusals, "
                                      "payload, estimated duration; exit 0 if the run could start")
    ck.add_argument("config", nargs="?", help="YAML config (default: the built-in default device config)")
    ck.add_argument("--target", action="append", metavar="NAME", help="check only this target (repeatable)")
    ck.add_argument("-s", "--serial", metavar="SERIAL", help="as for run")
    _set_argument(ck)
    ck.add_argument("--output", metavar="DIR", help="where earlier runs are looked for, for the estimate (default: run.output)")
    ck.add_argument("--no-build", action="store_true", help="do not build the payload (on this host) to see that it builds")
    rep = sub.add_parser("report", help="re-render a run's report from its results.json")
    rep.add_argument("run_dir", help="run folder (or its results.json)")
    rep.add_argument("--format", choices=("html", "text", "markdown", "json", "csv"), default="html")
    _stats_arguments(rep)
    cmp = sub.add_parser("compare", help="compare runs (kernel A vs B, device A vs B) per scenario and arm, the run as the unit")
    cmp.add_argument("runs", nargs="+", metavar="RUN",
                     help="side A's run folders (or results.json files, or a folder of run folders): the baseline; "
                          "without --against, exactly two runs: A and B")
    cmp.add_argument("--against", nargs="+", metavar="RUN",
                     help="side B's runs (at least 3 a side for a verdict: one run per side cannot be told from run-to-run noise)")
    cmp.add_argument("--output", metavar="DIR", help="where compare.html goes (default: run B's folder)")
    cmp.add_argument("--format", choices=("text", "markdown", "json", "csv"), default="text", help="what is printed")
    cmp.add_argument("--margin", type=_positive, metavar="PCT", default=1.0, help="equivalence margin of the verdict (default 1%%)")
    cmp.add_argument("--fail-on-regression", type=float, metavar="PCT",
                     help="exit 3 when a row's verdict is 'slower' (B against A) and its 95%% CI lies above PCT")
    cmp.add_argument("--gate-exit", action="store_true", help="--fail-on-regression gates the child's exit (exit_ns) too")
    lj = sub.add_parser("lava-job", help="write a LAVA job and test definition that run a config on a LAVA device")
    lj.add_argument("config", help="YAML config (benchmark, device)")
    lj.add_argument("--lava", required=True, metavar="OPTIONS", help="YAML: device_type, payload url/sha256, qemu or deploy/boot")
    lj.add_argument("--output", default=".", metavar="DIR", help="where job.yaml and devbench.yaml go (default: .)")
    lj.add_argument("--validate", action="store_true", help="check the job with LAVA's own schema validator (lava-common)")
    lr = sub.add_parser("lava-results", help="turn a LAVA job's results (and log) into a devbench run folder")
    lr.add_argument("results", help="`lavacli results JOB --yaml` output, or a REST /api/v0.2/jobs/N/tests/ page")
    lr.add_argument("--log", metavar="LOG", help="the job log (`lavacli jobs logs --raw JOB`): restores every sample")
    lr.add_argument("--config", metavar="CONFIG", help="the devbench config the job was made from (scenario pages)")
    lr.add_argument("--output", default="results", metavar="DIR", help="parent of the run folder (default: results)")
    rs = sub.add_parser("restore", help="undo what a run whose devbench died left on its devices (from their journals)")
    rs.add_argument("source", help="the run's YAML config, or its run folder (the config recorded in results.json)")
    rs.add_argument("--target", action="append", metavar="NAME", help="only this target (repeatable)")
    kc = sub.add_parser("kernel-config", help="print the kernel config fragment devbench needs (or check a kernel)")
    kc.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64")
    kc.add_argument("--check", metavar="KERNEL", help="check a kernel image (IKCONFIG or .config beside it) instead")
    return p


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._subparsers._group_actions if parser._subparsers else ():  # noqa: SLF001 - argparse keeps them there
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:  # noqa: SLF001
            return action.choices[command]
    return parser


def _set_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE", dest="overrides",
                   help="override a config value, checked as the file is (repeatable), e.g. benchmark.forks=200")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _stats_arguments(p: argparse.ArgumentParser, margin: bool = True) -> None:
    p.add_argument("--fail-on-regression", type=float, metavar="PCT",
                   help="exit 3 when a scenario's regression is significant (Holm p < 0.05) and its 95%% CI lies above PCT")
    p.add_argument("--gate-exit", action="store_true",
                   help="--fail-on-regression gates the child's exit (exit_ns, schema 2) too, not only fork()")
    if margin:
        p.add_argument("--margin", type=_positive, metavar="PCT", default=1.0,
                       help="equivalence margin of the verdict: CI within +-PCT is 'no difference' (default 1%%)")


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


TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def _command(args: argparse.Namespace) -> int:
    if args.command == "run":  # from the start: a signal while modules still load is an interrupt too
        for sig in TERMINATING:
            signal.signal(sig, _on_signal)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "kernel-config":
            return cmd_kernel_config(args)
        if args.command == "restore":
            return cmd_restore(args)
        if args.command == "lava-job":
            return cmd_lava_job(args)
        if args.command == "lava-results":
            return cmd_lava_results(args)
        if args.command == "compare":
            return cmd_compare(args)
        return cmd_report(args)
    except ConfigError as exc:
        print(f"devbench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ResultsError as exc:
        print(f"devbench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DevbenchError as exc:
        print(f"devbench: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:  # before any device was touched (a run handles its own)
        print(f"devbench: interrupted ({exc or 'SIGINT'}) before the run started; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED


def _default_config() -> str:
    from devbench.resources import data_dir

    return str(data_dir("configs") / "default.yaml")


class _Terminate(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised like Ctrl-C so every finally block restores the device."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Terminate(signal.Signals(signum).name)


def cmd_run(args: argparse.Namespace) -> int:
    from devbench.run import prefetch
    from devbench.config import load_config, with_overrides
    from devbench.report.html import write_report
    from devbench.report.table import render_text
    from devbench.run.runner import execute, resume_run, start_run
    from devbench.targets.labhost import expand

    if args.lava or (args.resume and _is_lava_run(args.resume)):
        return cmd_lava_run(args)
    if args.resume:
        if args.config or args.target or args.output or args.serial or args.overrides:
            print("devbench: error: --resume takes the run folder alone (its config is in its results.json)", file=sys.stderr)
            return EXIT_USAGE
        cfg, store = resume_run(Path(args.resume))
        cfg = expand(cfg)
        run_dir = Path(args.resume)
    else:
        cfg = expand(with_overrides(load_config(args.config or _default_config(), args.overrides), targets=args.target,
                                    output=args.output, serial=args.serial))
        run_dir, store = start_run(cfg)
        _link_latest(run_dir)
    for sig in TERMINATING:
        signal.signal(sig, _on_signal)
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
        print(f"devbench: interrupted ({exc or 'SIGINT'}); device restored, results kept", file=sys.stderr)
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
    _export(args, store.data, analysis)
    if interrupted:
        return EXIT_INTERRUPTED
    # a required condition not met comes first: no number of such a run is to be trusted,
    # whether it regressed or a scenario failed (both are still printed)
    conditions_unmet = _unmet(store.data, args.strict, cfg.device.require)
    regressed = args.fail_on_regression is not None and _regressed(store.data, args.fail_on_regression, analysis, args.gate_exit)
    if conditions_unmet:
        return EXIT_CONDITIONS
    if regressed:
        return EXIT_REGRESSION
    return EXIT_OK if ok else EXIT_FAILED


def _print_warning(target: str, message: str) -> None:
    print(f"devbench: warning: {target}: {message}", file=sys.stderr)


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


def _export(args: argparse.Namespace, data: dict, analysis: object) -> None:
    """run --json/--markdown/--csv PATH: the report's formats, each written whole."""
    from devbench.results.outfiles import write_whole
    from devbench.report.outputs import run_output

    for fmt in ("json", "markdown", "csv"):
        path = getattr(args, fmt, None)
        if path is None or analysis is None:
            continue
        try:
            write_whole(Path(path), run_output(data, analysis, fmt, args.fail_on_regression))  # type: ignore[arg-type]
        except OSError as exc:  # the run and its results are kept; only this export is missing
            print(f"devbench: --{fmt} {path}: not written ({exc.strerror or exc})", file=sys.stderr)
            continue
        print(f"devbench: {fmt} {path}", file=sys.stderr)


def _regressed(data: dict, threshold_pct: float, analysis: object = None, gate_exit: bool = False) -> bool:
    """The CI gate: print each significant regression above the threshold; True if any."""
    from devbench.analysis import analyze, gate

    metrics = ("fork", "exit") if gate_exit else ("fork",)
    failures = gate(analysis or analyze(data), threshold_pct, metrics)  # type: ignore[arg-type]
    for line in failures:
        print(f"devbench: regression: {line}", file=sys.stderr)
    return bool(failures)


def _is_lava_run(run_dir: str) -> bool:
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
            print("devbench: error: --resume takes the run folder alone (its config and LAVA options are in it)", file=sys.stderr)
            return EXIT_USAGE
        run_dir = Path(args.resume)
    else:
        cfg_path = args.config or _default_config()
        cfg = load_config(cfg_path)
        for p in args.lava:  # every options file is checked before anything is submitted
            from devbench.lava.options import load_options

            if load_options(p).server is None:
                print(f"devbench: {p}: server: is required for devbench run --lava (url and user)", file=sys.stderr)
                return EXIT_USAGE
        run_dir = Path(args.output or cfg.run.output) / make_run_id(cfg.run.name)
        farm.start(cfg_path, args.lava, run_dir)
    for sig in TERMINATING:
        signal.signal(sig, _on_signal)
    print(f"devbench: run {run_dir}", file=sys.stderr)
    say = (lambda target, text: None) if args.quiet else (lambda target, text: print(f"[{target}] {text}", file=sys.stderr))
    interrupted = False
    try:
        store, ok = farm.run(run_dir, say)
    except KeyboardInterrupt as exc:
        print(f"devbench: interrupted ({exc or 'SIGINT'}); LAVA jobs cancelled, results kept in {run_dir}", file=sys.stderr)
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


def cmd_check(args: argparse.Namespace) -> int:
    from devbench.run.check import check, latest_earlier, render
    from devbench.config import load_config, with_overrides
    from devbench.targets.labhost import expand

    cfg = with_overrides(load_config(args.config or _default_config(), args.overrides), targets=args.target,
                         output=args.output, serial=args.serial)
    cfg = expand(cfg)
    checks = check(cfg, build_payload=not args.no_build, earlier=latest_earlier(Path(cfg.run.output).expanduser()))
    print(render(checks, cfg), end="")
    return EXIT_OK if all(c.ready for c in checks) else EXIT_FAILED


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
    (out / "job.yaml").write_text(job, encoding="utf-8")
    (out / "devbench.yaml").write_text(testdef, encoding="utf-8")
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


def cmd_restore(args: argparse.Namespace) -> int:
    from devbench.config import with_overrides
    from devbench.cli.restore import config_of, restore_targets

    cfg = with_overrides(config_of(args.source), targets=args.target)
    ok = True
    for name, done, message in restore_targets(cfg):
        print(f"{name}: {message}")
        ok = ok and done
    return EXIT_OK if ok else EXIT_FAILED


def cmd_kernel_config(args: argparse.Namespace) -> int:
    from devbench.kernel.fragment import fragment_text

    if not args.check:
        print(fragment_text(args.arch), end="")
        return EXIT_OK
    from devbench.targets.qemu import kernel_findings

    kernel = Path(args.check).expanduser()
    if not kernel.is_file():
        print(f"devbench: kernel image {kernel} does not exist", file=sys.stderr)
        return EXIT_USAGE
    findings, source = kernel_findings(kernel, args.arch)
    for line in findings:
        print(line)
    if not findings:
        print(f"{kernel}: every option devbench needs is set ({source})")
    return EXIT_OK if not findings else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    from devbench.analysis import Options
    from devbench.report.outputs import run_output
    from devbench.results.store import load_analyzed

    data, analysis = load_analyzed(args.run_dir, Options(margin_pct=args.margin))
    if args.format == "html":
        from devbench.report.html import write_report

        run_dir = Path(args.run_dir)
        run_dir = run_dir if run_dir.is_dir() else run_dir.parent
        print(write_report(data, run_dir, analysis))
    else:
        print(run_output(data, analysis, args.format, args.fail_on_regression), end="")
    if args.fail_on_regression is not None and _regressed(data, args.fail_on_regression, analysis, args.gate_exit):
        return EXIT_REGRESSION
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from devbench.analysis import Options, compare
    from devbench.report.compare_html import write_compare
    from devbench.report.outputs import compare_output
    from devbench.results.store import load

    if args.against is None and len(args.runs) != 2:
        print(f"devbench: error: compare: {len(args.runs)} runs without --against; give A and B, or A's runs then "
              f"--against and B's runs (see devbench compare --help)", file=sys.stderr)
        return EXIT_USAGE
    side_a, side_b = _compare_sides(args.runs, args.against)
    data_a, data_b = [load(p) for p in side_a], [load(p) for p in side_b]
    result = compare(data_a, data_b, Options(margin_pct=args.margin))
    out_dir = Path(args.output) if args.output else _folder(side_b[0])
    page = write_compare(result, data_a[0], data_b[0], _folder(side_a[0]), _folder(side_b[0]), out_dir)
    print(compare_output(result, args.format), end="")
    if args.format in ("text", "markdown") and any(p.exit_rows for p in result.pairs):
        exits = replace(result, pairs=tuple(replace(p, rows=p.exit_rows) for p in result.pairs), notes=())
        print(f"\nThe child's exit (exit_ns, release to waitpid return), B against A:\n{compare_output(exits, args.format)}", end="")
    print(f"devbench: compare {len(side_a)} run(s) of A against {len(side_b)} of B: {page}", file=sys.stderr)
    if args.fail_on_regression is not None and _compare_regressed(result, args.fail_on_regression, args.gate_exit):
        return EXIT_REGRESSION
    return EXIT_OK


def _folder(path: str) -> Path:
    return Path(path) if Path(path).is_dir() else Path(path).parent


def _runs_in(path: str) -> list[str]:
    """A run folder or results.json as given; a folder without results.json but with run folders
    that have one: those runs, by name (a repeat of one setup; the `latest` link is not a run)."""
    p = Path(path)
    if p.is_dir() and not (p / "results.json").is_file():
        inner = sorted(str(d) for d in p.iterdir() if d.is_dir() and not d.is_symlink() and (d / "results.json").is_file())  # not OUTPUT/latest
        if inner:
            return inner
    return [path]


def _compare_sides(runs: list[str], against: list[str] | None) -> tuple[list[str], list[str]]:
    if against is None:
        return _runs_in(runs[0]), _runs_in(runs[1])
    return [r for p in runs for r in _runs_in(p)], [r for p in against for r in _runs_in(p)]


def _compare_regressed(result: object, threshold_pct: float, gate_exit: bool = False) -> bool:
    """compare --fail-on-regression: each row whose verdict (the analysis's) is "slower" with its
    CI above the threshold is printed; True if any. The child's exit only with --gate-exit."""
    failed = False
    for pair in result.pairs:  # type: ignore[attr-defined]
        for row in (*pair.rows, *(pair.exit_rows if gate_exit else ())):
            e = row.effect
            if row.verdict.kind != "slower" or e is None or e.ci_low_pct is None or not e.ci_low_pct > threshold_pct:
                continue
            failed = True
            what = "" if row.metric == "fork" else f", {row.metric}"
            print(f"devbench: regression: {pair.target_a} -> {pair.target_b} / {row.scenario} ({row.arm}{what}): "
                  f"B is {e.change_pct:+.2f}% against A (95% CI {e.ci_low_pct:+.2f}% to {e.ci_high_pct:+.2f}%), "
                  f"above {threshold_pct:g}%", file=sys.stderr)
    return failed

if __name__ == "__main__":
    raise SystemExit(main())
