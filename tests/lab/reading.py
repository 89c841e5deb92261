"""devbench's text output as a reader reads it: a note or a table row together with the lines
it was wrapped onto at 80 columns (devbench.report.table: a note's continuation lines are
indented under its text; the columns that do not fit a row go on indented lines under it)."""

from __future__ import annotations

import itertools


def notes(stdout: str, mark: str = "  ! ") -> list[str]:
    """Every note that starts with `mark` ("  ! " a warning or error, "  - " a descriptive line),
    without the mark, its wrapped lines joined with one space."""
    lines = stdout.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith(mark):
            more = itertools.takewhile(lambda ln: ln.startswith(" " * len(mark)) and ln.strip(), lines[i + 1:])
            out.append(" ".join([line[len(mark):], *(ln.strip() for ln in more)]))
    return out


def row(lines: list[str], i: int) -> str:
    """The table row at lines[i] with the indented lines under it (p (Holm), the verdict), its
    cells' spacing made single."""
    under = itertools.takewhile(lambda ln: ln.startswith(" " * 4) and ln.strip(), lines[i + 1:])
    return " ".join(" ".join([lines[i], *under]).split())
