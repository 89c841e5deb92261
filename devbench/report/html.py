"""report.html: one self-contained file from templates/report.html.j2 (Jinja, autoescape on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from devbench.report.table import HEADER, fmt_ms, fmt_pct, seed_rows, targets_in
from devbench.resources import data_dir


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        autoescape=True,  # every device string is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = fmt_ms
    env.filters["pct"] = fmt_pct
    env.filters["basename"] = lambda path: Path(str(path)).name
    return env


def render_html(data: dict[str, Any]) -> str:
    targets = []
    for name in targets_in(data):
        rec = next((t for t in data.get("targets", []) if t["name"] == name), {"name": name})
        targets.append({
            "name": name,
            "record": rec,
            "rows": seed_rows(data.get("summary", []), name),
            "summary": [r for r in data.get("summary", []) if r["target"] == name],
            "errors": [e for e in data.get("errors", []) if e.get("target") == name],
            "checks": [c for c in data.get("checks", []) if c.get("target") == name and c.get("check") in ("setup", "named_check")],
        })
    run_errors = [e for e in data.get("errors", []) if not e.get("target")]
    return environment().get_template("report.html.j2").render(
        run=data["run"], targets=targets, header=HEADER, run_errors=run_errors,
        config_text=json.dumps(data["run"].get("config"), indent=2),
    )


def write_report(data: dict[str, Any], run_dir: Path) -> Path:
    out = run_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render_html(data), encoding="utf-8")
    tmp.replace(out)
    return out
