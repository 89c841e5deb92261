"""report.html: one self-contained file from templates/report.html.j2 (Jinja, autoescape on)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from devbench.analysis import Analysis, analyze
from devbench.analysis.method import describe_method
from devbench.analysis.samples import group, targets_in
from devbench.analysis.stats import regression_pct
from devbench.analysis.sweep import series as sweep_series
from devbench.device.actions import for_the_clock
from devbench.report import plots
from devbench.report.device_view import UNITS_NOTE, conditions_table, facts_rows, label
from devbench.report.exits import exit_scenarios
from devbench.report.headline import headline
from devbench.report.kernels import heading, html_context, kernel_rows_of
from devbench.report.letter import build as build_letter
from devbench.report.letter import html_context as letter_context
from devbench.report.profiles import differential_view, profile_views
from devbench.report.sweep import SWEEP_HEADER, sweep_table_rows, sweep_title, target_sentence
from devbench.report.sweep_plot import sweep_figure
from devbench.report.table import change_of, fmt_ci, fmt_mean_sd, fmt_ms, fmt_p, fmt_pct, fmt_spread, notes
from devbench.resources import data_dir
from devbench.results.errors import causes
from devbench.results.rows import is_sweep, record_vmas, swept, with_vmas
from devbench.results.strict import REQUIREMENTS, breaks


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def run_file(path: Any) -> str:
    """A link target from results.json: a plain file name in the run folder (what devbench
    writes there, e.g. console-kut-1.log), else "" and no link (never a scheme, a path or ..)."""
    name = Path(str(path or "")).name
    return name if re.fullmatch(_PLAIN, name) else ""


def run_path(path: Any) -> str:
    """A link to a file below the run folder (profiles/<target>/...): relative, every part a
    plain name, else "" (the link's text is shown without a target)."""
    parts = str(path or "").split("/")
    return "/".join(parts) if all(re.fullmatch(_PLAIN, p) for p in parts) else ""


_PLAIN = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}"


@functools.cache
def environment() -> jinja2.Environment:
    """One environment per process: its templates are compiled once (and by warm() ahead of use)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        autoescape=True,  # every device string is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ms=fmt_ms,
        spread=fmt_spread,
        label=label,
        ms_bare=lambda v: "-" if v is None else f"{v:.2f}",
        mean_sd=lambda arm: fmt_mean_sd(arm, " ± ", ""),
        pct=fmt_pct,
        p=fmt_p,
        value=_value,
        run_file=run_file,
        run_path=run_path,
        num=lambda v, fmt="{:.3f}": "-" if v is None else fmt.format(v),
    )
    env.globals.update(fmt_ci=fmt_ci, regression_pct=regression_pct, with_vmas=with_vmas, change_of=change_of)
    return env


def warm() -> None:
    """Compile the report's template (and what it includes) ahead of its first use."""
    environment().get_template(REPORT_TEMPLATE)


REPORT_TEMPLATE = "report.html.j2"
DEVICE_RECORDS = (("device", "device preparation"),
                  ("adaptive", "adaptive sampling: why each scenario stopped"), ("reconnects", "connection losses"))
# the results table's header: what each column holds, with its unit (the text table keeps the seed's)
HTML_HEADER = ("scenario", "mean fork time, unnamed VMAs (ms), ± sd", "mean fork time, named VMAs (ms), ± sd",
               "REGRESSION, named vs unnamed", "95% CI of REGRESSION", "p (Holm)", "verdict",
               "forks, unnamed", "forks, named")
CONTENTS_FROM = 2  # a contents list when the report has this many targets or more


REFUSALS = ("not-enough-memory", "map-count-too-low", "kernel-lacks-anon-vma-name")  # devbench.device.fit


def empty_why(errors: list[dict[str, Any]], scenario: str, vmas: int | None = None) -> str:
    """What an empty figure of `scenario` (at VMA count `vmas`) says: each of its arms'
    refusals or errors with the reason (a refused arm is not "no data"), else "no data"."""
    why = [f"{e.get('arm') or 'both arms'} {'refused' if e.get('kind') in REFUSALS else e.get('kind')}: "
           f"{e.get('message')}" for e in errors if e.get("scenario") == scenario
           and (vmas is None or record_vmas(e, vmas) == vmas)]  # an error without a count is of every count
    return "; ".join(why) or "no data"


def results_header(clock: Any, sweep: bool = False) -> tuple[str, ...]:
    """HTML_HEADER (with the VMA count after the scenario in a sweep); under icount the means
    are instruction-path times (1 ns per guest instruction)."""
    header = (HTML_HEADER[0], "VMAs", *HTML_HEADER[1:]) if sweep else HTML_HEADER
    if clock != "icount":
        return header
    return tuple(h.replace("mean fork time", "mean fork instruction time (icount)") for h in header)


def _records(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """Device preparation records, shown generically (tables of keys and values) when present."""
    return [(title, record[key]) for key, title in DEVICE_RECORDS if record.get(key) not in (None, {}, [])]


def warning_items(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A target's warnings for the banner, each with the requirements (device.require) it breaks."""
    info = record.get("transport_info")
    info = info if isinstance(info, dict) else {}
    return [{"text": w, "breaks": [REQUIREMENTS[b][0] for b in breaks(w)]}
            for w in for_the_clock([w for w in record.get("warnings") or [] if isinstance(w, str)], info.get("clock"))]


def target_context(data: dict[str, Any], analysis: Analysis, name: str, scenarios: list) -> dict[str, Any]:
    rec = {"name": name, "transport": None, "status": None, "facts": None, "warnings": [], "device_changes": [],
           **next((t for t in data.get("targets", []) if t["name"] == name), {})}
    result = analysis.target(name)
    rows = list(result.rows) if result else []
    sweep = swept(r.vmas for r in rows) or is_sweep(data)  # every table, plot and label names the VMA count
    panels = [(sd.scenario, sd.vmas, sd.arms) for sd in scenarios if sd.target == name]
    margin = analysis.options.margin_pct  # the SVGs below are Markup: devbench.report.svg escapes every text it writes
    key = f"t{targets_in(data).index(name)}"
    exits = exit_scenarios(data, name)
    clock = (rec.get("transport_info") or {}).get("clock") if isinstance(rec.get("transport_info"), dict) else None
    errors = [e for e in data.get("errors", []) if e.get("target") == name and not e.get("resumed")]  # a resume's past
    found = sweep_series(rows)
    return {
        "name": heading(data, name),
        "sweep": sweep,
        "sweep_plots": [Markup(sweep_figure(found, unit, clock, margin)) for unit in ("us", "pct")] if found else [],
        "sweep_rows": sweep_table_rows(found, name),
        "sweep_title": sweep_title(clock),
        "sweep_sentence": target_sentence(found, name, margin, clock),
        "anchor": f"target-{key}",
        "warnings": warning_items(rec),
        "record": rec,
        "rows": rows,
        "headline": headline(f"On {heading(data, name)}", "fork() with named VMAs is", rows, margin),
        "change_plot": Markup(plots.changes(rows, margin, f"{key}-chg", "regression, named vs unnamed"))
        if rows
        else None,
        "header": results_header(clock, sweep),
        "distributions": [Markup(plots.distribution(with_vmas(sc, v, sweep), arms, f"{key}-d{i}", clock=clock,
                                                    why=empty_why(errors, sc, v)))
                          for i, (sc, v, arms) in enumerate(panels)],
        "timelines": [Markup(plots.timeline(with_vmas(sc, v, sweep), arms, f"{key}-t{i}", clock=clock,
                                            why=empty_why(errors, sc, v)))
                      for i, (sc, v, arms) in enumerate(panels)],
        "notes": [n for r in rows for n in notes(r, sweep)],
        "tables": _records(rec),
        "facts_rows": facts_rows(rec.get("facts")),
        "conditions": conditions_table(rec.get("conditions")),
        "exits": exits,
        "exit_plots": [
            Markup(plots.distribution(with_vmas(e.scenario, e.vmas, sweep), e.arms, f"{key}-x{i}", "child exit", clock))
            for i, e in enumerate(exits)
        ],
        "profiles": profile_views(data, name),
        "differential": differential_view(data, name),  # beside the table: where the named arm's samples grew
        # one per cause: a refusal of the named arm in every scenario is one line naming them
        "errors": [{"kind": c.kind, "scenario": ", ".join(c.scenarios), "arm": c.arm, "message": c.message}
                   for c in causes(errors, name, sweep)],
        "checks": [
            c for c in data.get("checks", []) if c.get("target") == name and c.get("check") in ("setup", "named_check")
        ],
    }


def render_html(data: dict[str, Any], analysis: Analysis | None = None) -> str:
    analysis = analysis or analyze(data)
    scenarios = group(data)
    targets = [target_context(data, analysis, name, scenarios) for name in targets_in(data)]
    kernels = html_context(data, analysis, analysis.options)  # a target's kernels compared: before the kernels
    return environment().get_template(REPORT_TEMPLATE).render(
        run=data["run"], targets=targets, kernels=kernels, header=HTML_HEADER,
        letter=letter_context(build_letter(data, analysis)), options=analysis.options,
        method=describe_method([*analysis.rows(), *kernel_rows_of(analysis)], analysis.options),
        sweep_header=SWEEP_HEADER, contents=len(targets) + len(kernels) >= CONTENTS_FROM, units_note=UNITS_NOTE,
        run_errors=[e for e in data.get("errors", []) if not e.get("target")],
        config_text=json.dumps(data["run"].get("config"), indent=2),
    )


def write_report(data: dict[str, Any], run_dir: Path, analysis: Analysis | None = None) -> Path:
    return write_html(render_html(data, analysis), run_dir / "report.html")


def write_html(text: str, out: Path) -> Path:
    from devbench.results.outfiles import atomic_write

    return atomic_write(out, text)  # never through a link planted at report.html or beside it
