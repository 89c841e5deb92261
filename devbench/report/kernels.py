"""The kernels table of a run that compared a target's kernels (devbench.analysis.kernels), in
every format: text and markdown sections, the JSON summary's "kernels", the CSV's lines, and
the HTML section's context (pure: returns text or plain data).

One section per kernel pair: kernel B against kernel A (the first of the target's kernels:),
one row per scenario and arm, then each boot's own mean (the boot is the unit of CHANGE)."""

from __future__ import annotations

import textwrap
from typing import Any

from markupsafe import Markup

from devbench.analysis import Analysis
from devbench.analysis.model import KernelPair, Options, Row
from devbench.report import plots
from devbench.report.headline import headline
from devbench.report.table import (
    SAY,
    STATS_HEADER,
    WARN,
    WIDTH,
    compare_cells,
    draw,
    fmt_ms,
    legend,
    notes,
    with_count,
    wrapped,
)
from devbench.results.rows import swept

ICOUNT_LINE = ("times are instruction-path costs under QEMU's instruction counting (icount), 1 ns per guest "
               "instruction: no cache or memory effects, not a device's timing")


def title(pair: KernelPair) -> str:
    arch = f" ({pair.arch})" if pair.arch else ""
    return f"{pair.target}{arch}: kernel {pair.kernel_b} against kernel {pair.kernel_a}"


def heading(data: dict[str, Any], target: str) -> str:
    """A kernel's own target, as its section is titled: its name, kernel and architecture."""
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == target), {})
    if not isinstance(rec.get("kernel"), str):
        return target
    from devbench.analysis.kernels import arch_label

    arch = arch_label(data, target)
    slots = [str(b.get("boot")) for b in rec.get("boots") or [] if isinstance(b, dict) and b.get("status") == "ok"]
    boots = f", boot{'s' if len(slots) != 1 else ''} {', '.join(slots)}" if slots else ""
    return f"{target} (kernel {rec['kernel']}{', ' + arch if arch else ''}{boots})"


def boots_line(pair: KernelPair) -> str:
    """Which boots each kernel had, and what the unit is."""
    a, b = (", ".join(str(s) for s in boots) or "none" for boots in (pair.boots_a, pair.boots_b))
    return (f"boots: {pair.kernel_a} {a}; {pair.kernel_b} {b} (in that order in time). The boot is the unit: "
            f"each counts as the mean of its batch means; CHANGE is the estimate its CI is built on (the ratio of "
            f"the kernels' geometric mean boot means), p (Holm) over this table's rows")


def icount(data: dict[str, Any], pair: KernelPair) -> bool:
    return any((t.get("transport_info") or {}).get("clock") == "icount" for t in data.get("targets") or []
               if isinstance(t, dict) and t.get("name") in (pair.target_a, pair.target_b))


def boot_table(pair: KernelPair, markdown: bool, sweep: bool = False) -> list[str]:
    """Each boot's own mean per scenario (VMA count, in a sweep) and arm, kernel A's boots then B's."""
    if not pair.boot_means:
        return []
    columns = [f"{pair.kernel_a} #{s}" for s in pair.boots_a] + [f"{pair.kernel_b} #{s}" for s in pair.boots_b]
    end = () if markdown else ("",)  # draw's last column is text, left-aligned: the numbers stay right-aligned
    rows = [(m.scenario, *((str(m.vmas),) if sweep else ()), m.arm, *(fmt_ms(v) for v in (*m.a, *m.b)), *end)
            for m in pair.boot_means]
    return ["", "each boot's mean fork time (#: the boot's place in time):", "",
            *draw(with_count(("scenario", "arm", *columns, *end), sweep), rows, markdown, left=3 if sweep else 2)]


EXIT_TITLE = "the child's exit (exit_ns, release to waitpid return)"


def exit_table(pair: KernelPair, markdown: bool) -> list[str]:
    """The child's exit, kernel B against kernel A per scenario and arm, as the fork's table
    (the boot the unit; where the results have exit times). The gate tests it with --gate-exit."""
    rows = list(pair.exit_rows)
    if not rows:
        return []
    sweep = swept(r.vmas for r in rows)
    header = with_count(("scenario", "arm", pair.kernel_a, pair.kernel_b, "CHANGE"), sweep) + STATS_HEADER
    return ["", *textwrap.wrap(f"the child's exit (exit_ns), kernel {pair.kernel_b} against kernel {pair.kernel_a}:",
                               WIDTH), "",
            *draw(header, [compare_cells(r, sweep) for r in rows], markdown, left=3 if sweep else 2)]


def kernel_sections(data: dict[str, Any], analysis: Analysis, after: str, markdown: bool) -> list[str]:
    """The kernels tables whose last kernel's section is `after` (text or markdown lines)."""
    out: list[str] = []
    for pair in analysis.kernels:
        members = {t for p in analysis.kernels if p.target == pair.target for t in (p.target_a, p.target_b)}
        if max(members, key=lambda t: _order(data, t)) != after:  # after the set's last kernel
            continue
        rows = list(pair.rows)
        sweep = swept(r.vmas for r in rows)  # every row names its VMA count in a sweep
        out += [f"{'### ' if markdown else ''}{title(pair)}", ""]
        header = with_count(("scenario", "arm", pair.kernel_a, pair.kernel_b, "CHANGE"), sweep) + STATS_HEADER
        out += (draw(header, [compare_cells(r, sweep) for r in rows], markdown, left=3 if sweep else 2) if rows
                else ["(nothing in common)"])
        out += legend(rows, analysis.options, markdown) if rows else []  # its CI's method and margin, ± sd
        out += wrapped([boots_line(pair)], SAY, markdown)
        out += boot_table(pair, markdown, sweep)
        out += exit_table(pair, markdown)
        out += wrapped([n for r in rows for n in notes(r, sweep)], WARN, markdown)
        if icount(data, pair):
            out += wrapped([ICOUNT_LINE], SAY, markdown)
        out.append("")
    return out


def _order(data: dict[str, Any], target: str) -> int:
    names = [t.get("name") for t in data.get("targets") or [] if isinstance(t, dict)]
    return names.index(target) if target in names else len(names)


def pair_json(pair: KernelPair, row_json: Any) -> dict[str, Any]:
    """The JSON summary's entry of a kernel pair (row_json: the summary's row encoder)."""
    return {"target": pair.target, "arch": pair.arch, "kernel": pair.kernel_b, "against": pair.kernel_a,
            "targets": [pair.target_a, pair.target_b], "boots": {pair.kernel_a: list(pair.boots_a),
                                                                 pair.kernel_b: list(pair.boots_b)},
            "rows": [row_json(r, ("a", "b")) for r in pair.rows],
            "exit_rows": [row_json(r, ("a", "b")) for r in pair.exit_rows],  # the child's exit, the same way
            "boot_means": [m.to_json() for m in pair.boot_means]}


def kernel_rows_of(analysis: Analysis) -> list[Row]:
    return [r for p in analysis.kernels for r in p.rows]


def html_context(data: dict[str, Any], analysis: Analysis, options: Options) -> list[dict[str, Any]]:
    """Each kernel pair's section of report.html."""
    out = []
    for i, pair in enumerate(analysis.kernels):
        rows = list(pair.rows)
        where = f"On {pair.target}" + (f" ({pair.arch})" if pair.arch else "")
        out.append({
            "title": title(pair), "anchor": f"kernels-{i}", "pair": pair, "rows": rows,
            "exit_rows": list(pair.exit_rows), "exit_title": EXIT_TITLE,
            "sweep": swept(r.vmas for r in rows),
            "headline": headline(where, f"kernel {pair.kernel_b}'s fork() against kernel {pair.kernel_a}'s is", rows,
                                 options.margin_pct),
            "boots": boots_line(pair),
            "columns": [*(f"{pair.kernel_a} #{s}" for s in pair.boots_a),
                        *(f"{pair.kernel_b} #{s}" for s in pair.boots_b)],
            "icount": ICOUNT_LINE if icount(data, pair) else None,
            "time": "mean fork instruction time (icount)" if icount(data, pair) else "mean fork time",
            "notes": [n for r in rows for n in notes(r, swept(r.vmas for r in rows))],
            # Markup: devbench.report.svg escapes every text it writes into the SVG
            "change_plot": Markup(plots.changes(rows, options.margin_pct, f"k{i}-chg",
                                                f"change, {pair.kernel_b} vs {pair.kernel_a}")) if rows else None,
        })
    return out
