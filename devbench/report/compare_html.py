"""compare.html: run B against run A, one self-contained file from templates/compare.html.j2."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from markupsafe import Markup

from devbench.analysis import Comparison
from devbench.analysis.method import describe_method
from devbench.analysis.samples import ScenarioData, group
from devbench.report import plots
from devbench.report.device_view import UNITS_NOTE, facts_rows
from devbench.report.differential import compare_profiles
from devbench.report.headline import headline
from devbench.report.html import environment, warning_items, write_html
from devbench.report.profiles import view_of
from devbench.report.table import COMPARE_HEADER, STATS_HEADER, notes, pair_title, run_labels
from devbench.results.rows import swept, with_vmas


def _arms(g: list[ScenarioData], target: str, scenario: str, vmas: int | None) -> dict[str, Any]:
    """One side's arms of a row: the scenario at the row's VMA count (any count when the row has none)."""
    return next(sd.arms for sd in g if sd.target == target and sd.scenario == scenario
                and (vmas is None or sd.vmas == vmas))


def _pair_context(i: int, pair: Any, groups: tuple[list, list], margin: float,
                  data: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    rows = list(pair.rows)
    sweep = swept(r.vmas for r in rows)
    panels = [(f"{with_vmas(r.scenario, r.vmas, sweep)}, {r.arm}",
               {"A": _arms(groups[0], pair.target_a, r.scenario, r.vmas)[r.arm],
                "B": _arms(groups[1], pair.target_b, r.scenario, r.vmas)[r.arm]})
              for r in rows if r.base and r.other and (r.base.n or r.other.n)]
    name = pair_title(pair)
    return {
        "name": name,
        "rows": rows,
        "sweep": sweep,
        "headline": headline(f"On {name}", "run B's fork() against run A's is", rows, margin),
        "notes": [n for r in rows for n in notes(r, sweep)],
        "run_means": pair.run_means,
        # Markup: devbench.report.svg escapes every text it writes into the SVG
        "change_plot": Markup(plots.changes(rows, margin, f"p{i}-chg", "change, B vs A")) if rows else None,
        "distributions": [Markup(plots.distribution(t, s, f"p{i}-d{k}")) for k, (t, s) in enumerate(panels)],
        # each side's differential profile: where each kernel's named arm spends its extra samples
        "profiles": [(f"p{i}-{sp.side.lower()}", sp.label(), view_of(sp.differential))
                     for sp in compare_profiles(pair, *data)],
    }


def run_devices(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of one run: its device facts (with units) and its warnings, for the compare page."""
    return [{"name": t.get("name"), "transport": t.get("transport"), "status": t.get("status"),
             "facts": facts_rows(t.get("facts")), "warnings": warning_items(t)}
            for t in data.get("targets") or [] if isinstance(t, dict)]


def run_entries(cmp: Comparison, links: dict[str, str], run_links: list[dict[str, str]] | None) -> list[dict[str, Any]]:
    """Every run of both sides (A1, A2, ... B1, ...): id, name, kernel, and links where known
    (run_links: each run's, A's runs then B's; else the first run's of each side from links)."""
    out: list[dict[str, Any]] = []
    for side, labels, runs in zip("ab", run_labels(cmp), (cmp.runs_a, cmp.runs_b), strict=True):
        for i, (label, run) in enumerate(zip(labels, runs, strict=False)):
            kernels = {k for k in (run.get("kernels") or {}).values() if k}
            own = (run_links or [])[len(out)] if run_links else (
                {"results": links[f"{side}_results"], "report": links[f"{side}_report"]} if i == 0 else {})
            out.append({"label": label, "run": run, "kernel": ", ".join(sorted(kernels)), "results": None,
                        "report": None, **own})
    return out


def render_compare_html(cmp: Comparison, data_a: dict[str, Any], data_b: dict[str, Any],
                        links: dict[str, str], run_links: list[dict[str, str]] | None = None) -> str:
    """links: relative hrefs for "a_results", "b_results", "a_report", "b_report" (the first run
    of each side); run_links: "results" and "report" of every run, side A's then side B's."""
    groups = (group(data_a), group(data_b))
    pairs = [_pair_context(i, p, groups, cmp.options.margin_pct, (data_a, data_b)) for i, p in enumerate(cmp.pairs)]
    return (
        environment()
        .get_template("compare.html.j2")
        .render(
            cmp=cmp,
            pairs=pairs,
            header=COMPARE_HEADER + STATS_HEADER,
            options=cmp.options,
            method=describe_method((r for p in cmp.pairs for r in p.rows), cmp.options),
            links=links,
            runs=run_entries(cmp, links, run_links),
            run_columns=[x for side in run_labels(cmp) for x in side] if cmp.runs != (1, 1) else [],
            mismatches=[m.text() for m in cmp.mismatches],  # compare --force: the banner
            units_note=UNITS_NOTE,
            devices=(("A", data_a["run"], run_devices(data_a)), ("B", data_b["run"], run_devices(data_b))),
        )
    )


def relative_links(dir_a: Path, dir_b: Path, out_dir: Path) -> dict[str, str]:
    rel = lambda p: Path(os.path.relpath(p, out_dir)).as_posix()  # noqa: E731
    return {"a_results": rel(dir_a / "results.json"), "b_results": rel(dir_b / "results.json"),
            "a_report": rel(dir_a / "report.html"), "b_report": rel(dir_b / "report.html")}


def write_compare(cmp: Comparison, data_a: dict[str, Any], data_b: dict[str, Any], dir_a: Path, dir_b: Path,
                  out_dir: Path, run_dirs: list[Path] | None = None) -> Path:
    """run_dirs: every run's folder, side A's then side B's (each run linked)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    each = [{"results": link["a_results"], "report": link["a_report"]}
            for link in (relative_links(d, d, out_dir) for d in run_dirs or [])] or None
    text = render_compare_html(cmp, data_a, data_b, relative_links(dir_a, dir_b, out_dir), each)
    return write_html(text, out_dir / "compare.html")
