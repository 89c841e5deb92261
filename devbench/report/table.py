"""The seed's result table (unnamed ms, named ms, REGRESSION %) as rows of strings (pure).

One table algorithm; each text format only decides how to draw it.
"""

from __future__ import annotations

from typing import Any

HEADER = ("scenario", "unnamed VMAs", "named VMAs", "REGRESSION")


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}ms"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"


def seed_rows(summary: list[dict[str, Any]], target: str) -> list[tuple[str, str, str, str]]:
    return [
        (row["scenario"], fmt_ms(row["unnamed_mean_ms"]), fmt_ms(row["named_mean_ms"]), fmt_pct(row["regression_pct"]))
        for row in summary
        if row["target"] == target
    ]


def targets_in(data: dict[str, Any]) -> list[str]:
    names = [t["name"] for t in data.get("targets", [])]
    for row in data.get("summary", []):
        if row["target"] not in names:
            names.append(row["target"])
    return names


def render_text(data: dict[str, Any], markdown: bool = False) -> str:
    out = []
    for target in targets_in(data):
        rows = seed_rows(data["summary"], target)
        out.append(f"{'### ' if markdown else ''}{target}")
        out.append("")
        if not rows:
            out.append("(no samples)")
        elif markdown:
            out.append("| " + " | ".join(HEADER) + " |")
            out.append("|" + "|".join(["---"] + ["---:"] * 3) + "|")
            out.extend("| " + " | ".join(r) + " |" for r in rows)
        else:
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
            line = lambda cells: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))  # noqa: E731
            out.append(line(HEADER))
            out.extend(line(r) for r in rows)
        errs = [e for e in data.get("errors", []) if e.get("target") == target]
        for e in errs:
            where = "/".join(x for x in (e.get("scenario"), e.get("arm")) if x)
            out.append(f"{'- ' if markdown else '  ! '}{e['kind']}{' (' + where + ')' if where else ''}: {e['message']}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
