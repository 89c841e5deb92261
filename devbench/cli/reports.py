"""The report commands: `report` (a run's report again, in any format) and `compare` (two runs
or sets of runs, with the CI gate)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from devbench.cli.parser import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION, EXIT_USAGE
from devbench.textsafe import shown

if TYPE_CHECKING:
    from devbench.analysis import Analysis, Comparison


def cmd_report(args: argparse.Namespace) -> int:
    from devbench.analysis import Options
    from devbench.analysis.gate import metrics_of
    from devbench.report.outputs import run_output
    from devbench.results.store import load_analyzed

    data, analysis = load_analyzed(args.run_dir, Options(margin_pct=args.margin))
    if args.format == "html":
        from devbench.report.html import write_report

        run_dir = Path(args.run_dir)
        run_dir = run_dir if run_dir.is_dir() else run_dir.parent
        print(write_report(data, run_dir, analysis))
    else:
        print(run_output(data, analysis, args.format, args.fail_on_regression, metrics_of(args.gate_exit)), end="")
    return gate_code(analysis, args) or EXIT_OK


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
    for m in result.mismatches:  # another workload: refused, or with --force said on every output
        print(f"devbench: {'warning: ' if args.force else ''}compare: the workloads differ: {m.text()}",
              file=sys.stderr)
    if result.mismatches and not args.force:
        print("devbench: compare: refused: the runs did not measure the same thing (--force compares them anyway, "
              "with a warning on every output)", file=sys.stderr)
        return EXIT_USAGE
    out_dir = Path(args.output) if args.output else _folder(side_b[0])
    page = write_compare(result, data_a[0], data_b[0], _folder(side_a[0]), _folder(side_b[0]), out_dir,
                         [_folder(p) for p in (*side_a, *side_b)])
    print(compare_output(result, args.format, (data_a[0], data_b[0])), end="")
    if args.format in ("text", "markdown") and any(p.exit_rows for p in result.pairs):
        # the fork's run list, run means and warnings are said above
        exits = replace(result, pairs=tuple(replace(p, rows=p.exit_rows, run_means=()) for p in result.pairs),
                        notes=(), mismatches=(), runs_a=(), runs_b=())
        print(
            "\nThe child's exit (exit_ns, release to waitpid return), B against "
            f"A:\n{compare_output(exits, args.format)}",
            end="",
        )
    print(f"devbench: compare {len(side_a)} run(s) of A against {len(side_b)} of B: {page}", file=sys.stderr)
    return gate_code(result, args) or EXIT_OK


def _folder(path: str) -> Path:
    return Path(path) if Path(path).is_dir() else Path(path).parent


def _runs_in(path: str) -> list[str]:
    """A run folder or results.json as given; a folder without results.json but with run folders
    that have one: those runs, by name (a repeat of one setup; the `latest` link is not a run)."""
    p = Path(path)
    if p.is_dir() and not (p / "results.json").is_file():
        # not OUTPUT/latest
        inner = sorted(
            str(d) for d in p.iterdir() if d.is_dir() and not d.is_symlink() and (d / "results.json").is_file()
        )
        if inner:
            return inner
    return [path]


def _compare_sides(runs: list[str], against: list[str] | None) -> tuple[list[str], list[str]]:
    if against is None:
        return _runs_in(runs[0]), _runs_in(runs[1])
    return [r for p in runs for r in _runs_in(p)], [r for p in against for r in _runs_in(p)]


def gate_code(source: Analysis | Comparison, args: argparse.Namespace) -> int | None:
    """--fail-on-regression for run, report and compare, one rule (devbench.analysis.gate): each
    row shown above PCT is named on stderr (EXIT_REGRESSION); rows the gate could not test (or no
    row at all) are named too, and make it EXIT_INCONCLUSIVE unless --allow-inconclusive. None:
    the gate passes (or none was asked)."""
    from devbench.analysis.gate import describe_failure, metrics_of, run_gate, undecided_lines

    if args.fail_on_regression is None:
        return None
    result = run_gate(source, args.fail_on_regression, metrics_of(args.gate_exit))
    for row in result.failing:
        line = describe_failure(row, result.threshold_pct, result.sweep)
        print(shown(f"devbench: regression: {line}"), file=sys.stderr)  # names from results files: escaped
    allowed = getattr(args, "allow_inconclusive", False)
    undecided = undecided_lines(result)
    for line in undecided:
        print(shown(f"devbench: gate cannot decide: {line}"), file=sys.stderr)  # names from results files: escaped
    if result.undecided:
        n = len(result.undecided)
        print(f"devbench: gate: {n} row{'s' if n != 1 else ''} not tested against {result.threshold_pct:g}%"
              + (" (--allow-inconclusive: passed)" if allowed else
                 f": exit {EXIT_INCONCLUSIVE} (--allow-inconclusive to pass them)"), file=sys.stderr)
    elif not result.gated:
        print(f"devbench: gate: nothing tested against {result.threshold_pct:g}%"
              + (" (--allow-inconclusive: passed)" if allowed else
                 f": exit {EXIT_INCONCLUSIVE} (--allow-inconclusive to pass)"), file=sys.stderr)
    if result.failing:
        return EXIT_REGRESSION
    return EXIT_INCONCLUSIVE if undecided and not allowed else None
