"""The seed's result table (unnamed ms, named ms, REGRESSION %) with CI columns added, as rows
of strings (pure). One table algorithm; text and Markdown only decide how to draw it."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from devbench.analysis import Analysis, ArmStats, Comparison, Options, Row, analyze
from devbench.analysis.method import method_line
from devbench.analysis.samples import targets_in
from devbench.analysis.stats import regression_pct
from devbench.device.actions import for_the_clock
from devbench.results.errors import causes
from devbench.results.rows import is_sweep, swept, with_vmas
from devbench.results.store import summarize
from devbench.textsafe import shown

HEADER = ("scenario", "unnamed VMAs", "named VMAs", "REGRESSION")
STATS_HEADER = ("95% CI", "p (Holm)", "verdict")
COMPARE_HEADER = ("scenario", "arm", "run A", "run B", "CHANGE")
VMAS_COLUMN = "VMAs"  # a sweep's VMA count, after the scenario
OUTLIER_NOTE = 0.01  # the text notes outliers above this share of forks (the HTML shows all)
WIDTH = 80  # the text format fits an 80-column terminal or mail (pyperf and hyperfine do)
WARN, SAY = "  ! ", "  - "  # text: a warning's mark ("!" only there); a descriptive line's


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}ms"


def fmt_spread(value: float | None) -> str:
    """A spread (sd, MAD) in ms to three significant digits, written out: 0.00734ms, never "0.00ms",
    and never in exponent form (0.0000120ms, 1230ms: a reader compares it with the mean beside it)."""
    if value is None:
        return "-"
    if value == 0:
        return "0ms"
    digits = np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="k")
    return digits.removesuffix(".") + "ms"  # 0.100ms keeps its three digits; 1230ms no trailing point


def fmt_mean_sd(arm: ArmStats | None, sep: str = "±", unit: str = "ms") -> str:
    """An arm's mean with the sd of its forks, as hyperfine's "mean ± σ": 57.69±0.00374ms (the
    sd as fmt_spread gives it; none under two forks)."""
    if arm is None or arm.mean is None:
        return "-"
    sd = "" if arm.stdev is None or arm.n < 2 else sep + fmt_spread(arm.stdev).removesuffix("ms")
    return f"{arm.mean:.2f}{sd}{unit}"


def change_of(row: Row) -> float | None:
    """The change a row shows: its effect's estimate (the one its CI is built on), or the ratio of
    the arms' means where there is no effect."""
    if row.effect is not None and row.effect.change_pct is not None:
        return row.effect.change_pct
    return regression_pct(row.base.mean if row.base else None, row.other.mean if row.other else None)


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"


def fmt_ci(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{low:+.2f}%, {high:+.2f}%]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def stats_cells(row: Row) -> tuple[str, str, str]:
    e = row.effect
    return (fmt_ci(e.ci_low_pct, e.ci_high_pct) if e else "-", fmt_p(row.p_holm), row.verdict.label)


def with_count(header: tuple[str, ...], sweep: bool) -> tuple[str, ...]:
    """A table's header with the VMA count after the scenario, in a sweep."""
    return (header[0], VMAS_COLUMN, *header[1:]) if sweep else header


def _count(row: Row, sweep: bool) -> tuple[str, ...]:
    return (str(row.vmas) if row.vmas is not None else "-",) if sweep else ()


def seed_cells(row: Row, sweep: bool = False) -> tuple[str, ...]:
    """One run's row: the seed's four columns (each mean ± its sd; the VMA count after the
    scenario, in a sweep), then CI, Holm p and verdict."""
    return (row.scenario, *_count(row, sweep), fmt_mean_sd(row.base), fmt_mean_sd(row.other),
            fmt_pct(change_of(row)), *stats_cells(row))


def compare_cells(row: Row, sweep: bool = False) -> tuple[str, ...]:
    """A comparison's row: one arm of one scenario (at one VMA count), run B against run A."""
    return (row.scenario, *_count(row, sweep), row.arm or "", fmt_mean_sd(row.base), fmt_mean_sd(row.other),
            fmt_pct(change_of(row)),
            *stats_cells(row))


def draw(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool, left: int = 1,
         width: int = WIDTH) -> list[str]:
    """The first `left` columns and the last one are left-aligned, the numbers right-aligned.
    Text wider than `width`: the last columns leave the table for a line of their own under
    each row, from its second column on ("verdict: slower"), as many as it takes, so that no
    line is cut or wrapped."""
    n = len(header)
    is_left = [i < left or i == n - 1 for i in range(n)]
    if markdown:
        return ["| " + " | ".join(header) + " |",
                "|" + "|".join("---" if lft else "---:" for lft in is_left) + "|",
                *("| " + " | ".join(r) + " |" for r in rows)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    keep = n
    while keep > left + 1 and sum(widths[:keep]) + 2 * (keep - 1) > width:
        keep -= 1

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(widths[i]) if is_left[i] else c.rjust(widths[i]) for i, c in enumerate(cells[:keep])]
        return "  ".join(out).rstrip()

    def below(cells: Sequence[str]) -> list[str]:
        rest = "; ".join(f"{h}: {c}" for h, c in zip(header[keep:], cells[keep:], strict=True))
        indent = " " * min(widths[0] + 2, width // 3)
        return textwrap.wrap(rest, width, initial_indent=indent, subsequent_indent=indent + "  ") if rest else []

    return [line(header), *(x for r in rows for x in (line(r), *below(r)))]


def wrapped(lines: Sequence[str], bullet: str, markdown: bool, width: int = WIDTH) -> list[str]:
    """Notes under a table, each wrapped at word boundaries to `width` (markdown: a list item's
    continuation lines indented under its text)."""
    first = "- " if markdown else bullet
    return [x for text in lines for x in textwrap.wrap(text, width, initial_indent=first,
                                                     subsequent_indent=" " * len(first), break_long_words=False,
                                                     break_on_hyphens=False)]


def legend(rows: Sequence[Row], options: Options, markdown: bool) -> list[str]:
    """Under a table: how its CI was made, its verdicts' margin and what ± means (one short line)."""
    line = f"{method_line(rows, options)}; ± is the sd"
    return ["", f"*{line}*"] if markdown else [f"  {line}"]


def notes(row: Row, sweep: bool = False) -> list[str]:
    """What could have spoiled a row: drift, a slow first batch, outliers (never dropped)."""
    out = []
    for name, arm in (
        ("unnamed" if row.arm is None else "A", row.base),
        ("named" if row.arm is None else "B", row.other),
    ):
        if arm is None or arm.n == 0:
            continue
        where = f"{with_vmas(row.scenario, row.vmas, sweep)}{' ' + row.arm if row.arm else ''}, {name}"
        if arm.drift.flagged:
            out.append(f"drift ({where}): {arm.drift.change_pct:+.2f}% over the run (p {fmt_p(arm.drift.p)})")
        if arm.warmup.flagged:
            out.append(
                f"first batch ({where}): {arm.warmup.first_batch_pct:+.2f}% against the rest (p {fmt_p(arm.warmup.p)})"
            )
        if arm.outliers.count > OUTLIER_NOTE * arm.n:
            out.append(f"outliers ({where}): {arm.outliers.count} of {arm.n} forks (|modified z| > 3.5; kept)")
    return out


def exit_lines(summary: list[dict[str, Any]], target: str) -> list[str]:
    """The child's exit per scenario (rows of results.summarize), timed apart from the fork
    (payload 2 and later): descriptive means; the verdict above is the fork's."""
    out = []
    sweep = swept(row.get("vmas") for row in summary if row["target"] == target)
    for row in summary:
        e = row.get("exit")
        if row["target"] != target or not e or e["unnamed_mean_ms"] is None or e["named_mean_ms"] is None:
            continue
        change = "" if e["change_pct"] is None else f" ({e['change_pct']:+.2f}%)"
        out.append(
            f"exit ({with_vmas(row['scenario'], row.get('vmas'), sweep)}): the child's exit, release to waitpid, "
            f"means {e['unnamed_mean_ms']:.2f}ms "
            f"unnamed, {e['named_mean_ms']:.2f}ms named{change}; descriptive, no CI"
        )
    return out


def render_text(data: dict[str, Any], markdown: bool = False, analysis: Analysis | None = None) -> str:
    analysis = analysis or analyze(data)
    summary = summarize(data, statistics=False)  # once: the exit lines of every target
    from devbench.report.kernels import heading, kernel_sections
    from devbench.report.letter import build, text_lines

    out = text_lines(build(data, analysis), markdown)  # the seed's two tables beside this run's, first

    for target in targets_in(data):
        result = analysis.target(target)
        rows = list(result.rows) if result else []
        sweep = swept(r.vmas for r in rows) or is_sweep(data)
        out += [f"{'### ' if markdown else ''}{heading(data, target)}", ""]
        if rows:
            out += draw(with_count(HEADER, sweep) + STATS_HEADER, [seed_cells(r, sweep) for r in rows], markdown)
            out += legend(rows, analysis.options, markdown)
        else:
            out.append("(no samples)")
        # "!" marks what could spoil a number (notes, warnings, errors); the exit lines only describe
        out += wrapped([n for r in rows for n in notes(r, sweep)], WARN, markdown)
        out += wrapped(exit_lines(summary, target), SAY, markdown)
        out += sweep_lines(rows, target, data, analysis.options.margin_pct, markdown)
        # what the device's conditions say about every number above (clocks not locked, an
        # emulated machine, ...): under the table, not only in results.json and the HTML
        out += wrapped([f"warning: {w}" for t in data.get("targets", []) if t.get("name") == target
                        for w in for_the_clock([w for w in t.get("warnings") or [] if isinstance(w, str)],
                                               (t.get("transport_info") or {}).get("clock"))], WARN, markdown)
        # an interruption a resume answered is history, not a problem of these numbers
        everything = [e for e in data.get("errors", []) if isinstance(e, dict)]
        out += wrapped([f"resumed after: {e.get('message')}" for e in everything
                        if e.get("target") == target and e.get("resumed")], SAY, markdown)
        # one line per cause: a refusal that hit every scenario is said once
        out += wrapped([cause.line() for cause in causes([e for e in everything if not e.get("resumed")], target,
                                                         is_sweep(data))],
                       WARN, markdown)
        out += differential_lines(data, target, markdown)  # where the named arm's extra samples are
        out.append("")
        out += kernel_sections(data, analysis, target, markdown)  # a target's kernels compared, after the last
    return shown("\n".join(out).rstrip() + "\n", lines=True)  # a results file's strings shown, never obeyed


def differential_lines(data: dict[str, Any], target: str, markdown: bool) -> list[str]:
    """The target's differential profile under its table (devbench.report.differential)."""
    from devbench.report.differential import differential_lines as lines

    return lines(data, target, markdown)


def sweep_lines(rows: list[Row], target: str, data: dict[str, Any], margin_pct: float, markdown: bool) -> list[str]:
    """A sweep's table of the added time per fork against the VMA count, and what it finds at
    4096 VMAs (devbench.report.sweep); nothing for one count."""
    from devbench.analysis.sweep import series
    from devbench.report.sweep import SWEEP_HEADER, sweep_table_rows, sweep_title, target_sentence

    found = series(rows)
    if not found:
        return []
    clock = next(((t.get("transport_info") or {}).get("clock") for t in data.get("targets", [])
                  if t.get("name") == target and isinstance(t.get("transport_info"), dict)), None)
    title = [sweep_title(clock)] if markdown else textwrap.wrap(sweep_title(clock), WIDTH)
    return ["", *title, "", *draw(SWEEP_HEADER, sweep_table_rows(found, target), markdown),
            *wrapped([target_sentence(found, target, margin_pct, clock)], SAY, markdown)]


def mismatch_lines(cmp: Comparison) -> list[str]:
    """compare --force: what the two sides' workloads differ in, one line each (every output says it)."""
    return [f"the workloads differ (compared with --force): {m.text()}" for m in cmp.mismatches]


def run_labels(cmp: Comparison) -> tuple[list[str], list[str]]:
    """A and B for one run a side; A1, A2, ... for several."""
    a, b = ([side if n == 1 else f"{side}{i + 1}" for i in range(n)] for side, n in zip("AB", cmp.runs, strict=True))
    return a, b


def compare_heading(cmp: Comparison) -> str:
    if cmp.runs == (1, 1):
        return f"run B {cmp.run_b.get('id')} against run A {cmp.run_a.get('id')}"
    return " against ".join(f"{n} run{'s' if n != 1 else ''} of {side}" for side, n in (("B", cmp.runs[1]),
                                                                                       ("A", cmp.runs[0])))


def run_lines(cmp: Comparison, markdown: bool = False) -> list[str]:
    """Every run of each side by its label, id, name and kernel (the kernel is shown, never refused)."""
    out = []
    for labels, runs in zip(run_labels(cmp), (cmp.runs_a, cmp.runs_b), strict=True):
        for label, run in zip(labels, runs, strict=False):
            kernels = {k for k in (run.get("kernels") or {}).values() if k}
            kernel = (f", kernel {next(iter(kernels))}" if len(kernels) == 1 else
                      ", kernels " + ", ".join(f"{t} {k}" for t, k in run["kernels"].items() if k) if kernels else "")
            ident = f"`{run.get('id')}`" if markdown else str(run.get("id"))
            out.append(f"{'- ' if markdown else '  '}{label}: {ident} ({run.get('name')}){kernel}")
    return out


def run_means_table(cmp: Comparison, pair: Any, markdown: bool = False) -> list[str]:
    """Several runs a side: each run's own mean per scenario and arm (the numbers behind CHANGE)."""
    if cmp.runs == (1, 1) or not pair.run_means:
        return []
    labels = [x for side in run_labels(cmp) for x in side]
    end = () if markdown else ("",)  # draw's last column is text, left-aligned: the numbers stay right-aligned
    sweep = swept(m.vmas for m in pair.run_means)
    rows = [(m.scenario, *((str(m.vmas),) if sweep else ()), m.arm, *(fmt_ms(v) for v in (*m.a, *m.b)), *end)
            for m in pair.run_means]
    return ["", "each run's mean fork time (runs are the unit of CHANGE):", "",
            *draw(with_count(("scenario", "arm", *labels, *end), sweep), rows, markdown, left=3 if sweep else 2)]


def pair_title(pair: Any) -> str:
    """A target pairing of a comparison; where the two sides ran different kernels, a kernels
    table: which kernel each side ran, and the architecture."""
    title = pair.target_a if pair.target_a == pair.target_b else f"{pair.target_a} (A) → {pair.target_b} (B)"
    if getattr(pair, "kernels_differ", False):
        arch = f" ({pair.arch})" if pair.arch else ""
        title += f"{arch}: kernel {pair.kernel_b} (B) against kernel {pair.kernel_a} (A)"
    return title


def render_compare_text(cmp: Comparison, markdown: bool = False,
                        data: tuple[dict[str, Any], dict[str, Any]] | None = None) -> str:
    """Run B against run A: per target pairing, one line per scenario and arm; with data (the
    first run of each side), each side's differential profile under the pairing's table."""
    from devbench.report.differential import compare_profile_lines

    out = [f"{'## ' if markdown else ''}{compare_heading(cmp)}", ""]
    out += [f"{'- **warning**: ' if markdown else '! warning: '}{line}" for line in mismatch_lines(cmp)]
    out += [""] if cmp.mismatches else []
    out += [*run_lines(cmp, markdown), ""] if cmp.runs_a else []
    for pair in cmp.pairs:
        out += [f"{'### ' if markdown else ''}{pair_title(pair)}", ""]
        rows = list(pair.rows)
        sweep = swept(r.vmas for r in rows)
        out += (
            draw(with_count(COMPARE_HEADER, sweep) + STATS_HEADER, [compare_cells(r, sweep) for r in rows], markdown,
                 left=3 if sweep else 2)
            if rows
            else ["(nothing in common)"]
        )
        out += legend(rows, cmp.options, markdown) if rows else []
        out += run_means_table(cmp, pair, markdown)
        out += wrapped([n for r in rows for n in notes(r, sweep)], WARN, markdown)
        out += compare_profile_lines(pair, *data, markdown) if data else []
        out.append("")
    out += wrapped(list(cmp.notes), "note: ", markdown)
    return shown("\n".join(out).rstrip() + "\n", lines=True)
