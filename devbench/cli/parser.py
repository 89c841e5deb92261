"""The command line's parser and its exit codes.

Exit codes: 0 ok, 1 run failure (a target or scenario failed; results kept), 2 bad config
or usage, 3 a significant regression above --fail-on-regression, 4 a required device condition
not met (--strict, device.require; results kept; before 3 and 1), 5 --fail-on-regression could
not test a row (no CI: too few batches or runs; after 3 and 1; --allow-inconclusive passes it),
130 interrupted (device restored, results kept).
"""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from devbench import __version__
from devbench.textsafe import shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_REGRESSION = 3
EXIT_CHECK_REFUSALS = 3  # check: the run could start, but would refuse a scenario or arm (and exit 1)
EXIT_CONDITIONS = 4  # --strict / device.require: a warning broke a required condition (results written)
EXIT_INCONCLUSIVE = 5  # --fail-on-regression could not test a row (no CI), without --allow-inconclusive


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (an argument's line breaks escaped)
        line = shown(message)
        self.exit(EXIT_USAGE, f"devbench: error: {line} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="devbench", description="Benchmark the fork cost of named anonymous VMAs on real devices.")
    p.add_argument("--version", action="version", version=f"devbench {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, required=True)
    r = sub.add_parser("run", help="run a benchmark config on its targets")
    r.add_argument("config", nargs="?", help="YAML config (default: the built-in default device config)")
    r.add_argument("--target", action="append", metavar="NAME", help="run only this target (repeatable)")
    r.add_argument("--output", metavar="DIR", help="parent folder of the run folder (default: run.output)")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument(
        "--lava",
        action="append",
        metavar="OPTIONS",
        help="run on a LAVA farm: one job per options file (server, device_type, payload, qemu or deploy/boot); "
             "repeatable",
    )
    r.add_argument(
        "--resume", metavar="RUN_DIR", help="go on with an interrupted run: only the batches not measured yet"
    )
    r.add_argument("--strict", action="store_true",
                   help="exit 4 unless clocks were locked, nothing throttled, the device is no emulator and its "
                        "framework was stopped (device.require picks some of these)")
    r.add_argument("-s", "--serial", metavar="SERIAL", help="the device of the adb target that names none (as adb -s; "
                                                            "default $ANDROID_SERIAL, else the only device attached)")
    _set_argument(r)
    for fmt in ("json", "markdown", "csv"):
        r.add_argument(
            f"--{fmt}",
            metavar="PATH",
            help=f"also write the report as {fmt} to PATH (as `devbench report --format {fmt}`)",
        )
    _stats_arguments(r, margin=False)
    ck = sub.add_parser(
        "check",
        help="connect and probe every target, change nothing: facts, planned changes, refusals, "
        "payload, estimated duration; exit 0 if the run could start, 3 if it could but would refuse a scenario or "
        "arm, 1 if not",
    )
    ck.add_argument("config", nargs="?", help="YAML config (default: the built-in default device config)")
    ck.add_argument("--target", action="append", metavar="NAME", help="check only this target (repeatable)")
    ck.add_argument("-s", "--serial", metavar="SERIAL", help="as for run")
    _set_argument(ck)
    ck.add_argument(
        "--output", metavar="DIR", help="where earlier runs are looked for, for the estimate (default: run.output)"
    )
    ck.add_argument(
        "--no-build", action="store_true", help="do not build the payload (on this host) to see that it builds"
    )
    rep = sub.add_parser("report", help="re-render a run's report from its results.json")
    rep.add_argument("run_dir", help="run folder (or its results.json)")
    rep.add_argument("--format", choices=("html", "text", "markdown", "json", "csv"), default="html")
    _stats_arguments(rep)
    cmp = sub.add_parser(
        "compare", help="compare runs (kernel A vs B, device A vs B) per scenario and arm, the run as the unit"
    )
    cmp.add_argument("runs", nargs="+", metavar="RUN",
                     help="side A's run folders (or results.json files, or a folder of run folders): the baseline; "
                          "without --against, exactly two runs: A and B")
    cmp.add_argument(
        "--against",
        nargs="+",
        metavar="RUN",
        help="side B's runs (at least 3 a side for a verdict: one run per side cannot be told from run-to-run noise)",
    )
    cmp.add_argument("--output", metavar="DIR", help="where compare.html goes (default: run B's folder)")
    cmp.add_argument("--format", choices=("text", "markdown", "json", "csv"), default="text", help="what is printed")
    cmp.add_argument(
        "--margin", type=_positive, metavar="PCT", default=1.0, help="equivalence margin of the verdict (default 1%%)"
    )
    _gate_arguments(cmp)
    cmp.add_argument("--force", action="store_true",
                     help="compare runs whose workloads differ (VMAs, pages, scenarios, clock, payload, arch; "
                          "refused, exit 2, without it), with a warning on every output")
    lj = sub.add_parser("lava-job", help="write a LAVA job and test definition that run a config on a LAVA device")
    lj.add_argument("config", help="YAML config (benchmark, device)")
    lj.add_argument(
        "--lava", required=True, metavar="OPTIONS", help="YAML: device_type, payload url/sha256, qemu or deploy/boot"
    )
    lj.add_argument("--output", default=".", metavar="DIR", help="where job.yaml and devbench.yaml go (default: .)")
    lj.add_argument(
        "--validate", action="store_true", help="check the job with LAVA's own schema validator (lava-common)"
    )
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


def percent(text: str) -> float:
    """A percentage: 5, 5% or 0.5%."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (e.g. 5 or 5%)")
    return value


def _gate_arguments(p: argparse.ArgumentParser) -> None:
    """The CI gate, the same for run, report and compare (devbench.analysis.gate)."""
    p.add_argument("--fail-on-regression", type=percent, metavar="PCT",
                   help="exit 3 when a row's change is shown above PCT (5 or 5%%): its 95%% CI lies above PCT, "
                        "Holm-adjusted over the rows; exit 5 when a row has no CI to test")
    p.add_argument("--allow-inconclusive", action="store_true",
                   help="--fail-on-regression passes rows it cannot test (no CI: too few batches or runs); they "
                        "are still named on stderr")
    p.add_argument("--gate-exit", action="store_true",
                   help="--fail-on-regression gates the child's exit (exit_ns, schema 2) too, not only fork()")


def _stats_arguments(p: argparse.ArgumentParser, margin: bool = True) -> None:
    _gate_arguments(p)
    if margin:
        p.add_argument("--margin", type=_positive, metavar="PCT", default=1.0,
                       help="equivalence margin of the verdict: CI within +-PCT is 'no difference' (default 1%%)")


def default_config() -> str:
    from devbench.resources import data_dir

    return str(data_dir("configs") / "default.yaml")
