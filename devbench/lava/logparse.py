"""What devbench's test definition printed, recovered from a LAVA job log (pure but for reading).

A LAVA log is a YAML list of {dt, lvl, msg}, as `lavacli jobs logs --raw JOB` and the REST API
(/api/v0.2/jobs/JOB/logs/) give it. What the device printed is at lvl "target", one line per
entry. LAVA's dispatcher (lava_dispatcher.shell.ShellLogger) writes every " of the device's
output as \\" in msg; JSON lines are tried as they are, then with that undone, so logs from
dispatchers that escape and from ones that do not both read back exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devbench.errors import ResultsError
from devbench.lava.markers import MARKER_RE, PREFIX
from devbench.lava.yamlfile import read_yaml

_ESCAPED_QUOTE = re.compile(r'\\"')


@dataclass
class PayloadRun:
    """One payload invocation as the log holds it."""

    index: int
    lines: list[tuple[str, str]] = field(default_factory=list)  # (dt, the payload's stdout line)
    stderr: list[str] = field(default_factory=list)
    exit_code: int | None = None  # None: no DEVBENCH-END (the job stopped inside this invocation)
    line_count: int | None = None  # lines the device printed, to check nothing was lost
    began: str | None = None
    ended: str | None = None


@dataclass
class LavaLog:
    run: dict[str, Any] | None = None  # the DEVBENCH-RUN record
    run_dt: str | None = None
    probe: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    restores: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # DEVBENCH-WARN lines and what could not be read
    invocations: dict[int, PayloadRun] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)  # LAVA's lvl "results" entries
    lava_errors: list[str] = field(default_factory=list)  # LAVA's lvl "error" entries
    last_dt: str | None = None
    runs_seen: int = 0  # DEVBENCH-RUN lines: more than one when the test definition was repeated


def read_log(path: str | Path) -> LavaLog:
    entries, file = read_yaml(path, "a LAVA job log", decode_errors="replace")
    return parse_log(entries, file)


def parse_log(entries: Any, file: str = "<log>") -> LavaLog:
    if not isinstance(entries, list):
        raise ResultsError(file, "not a LAVA job log: expected a YAML list of {dt, lvl, msg} entries")
    log = LavaLog()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("lvl"), str) or "msg" not in entry:
            raise ResultsError(file, f"not a LAVA job log: entry {i + 1} is not a {{dt, lvl, msg}} mapping")
        dt = str(entry.get("dt") or "") or None
        log.last_dt = dt or log.last_dt
        lvl, msg = entry["lvl"], entry["msg"]
        if lvl == "results" and isinstance(msg, dict):
            log.results.append(msg)
        elif lvl == "error" and isinstance(msg, str):
            log.lava_errors.append(msg)
        elif lvl == "target" and isinstance(msg, str):
            _target_line(log, msg, dt)
    return log


def unescape(text: str) -> str:
    """Undo LAVA's escaping of the device's double quotes (" became \\")."""
    return _ESCAPED_QUOTE.sub('"', text)


def looks_escaped(text: str) -> bool:
    quotes = text.count('"')
    return quotes > 0 and len(_ESCAPED_QUOTE.findall(text)) == quotes


def device_text(text: str) -> str:
    """A JSON line as the device printed it: as logged, or with LAVA's escaping undone when only
    that parses (other lines are returned as logged)."""
    if _parses(text) or not looks_escaped(text):
        return text
    plain = unescape(text)
    return plain if _parses(plain) else text


def best_json(text: str) -> Any:
    """The JSON value of a line as the device printed it; None if it is not JSON."""
    line = device_text(text)
    return json.loads(line) if _parses(line) else None


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _plain(text: str) -> str:
    return unescape(text) if looks_escaped(text) else text


def _target_line(log: LavaLog, msg: str, dt: str | None) -> None:
    at = msg.find(PREFIX)
    if at < 0:
        return
    m = MARKER_RE.match(msg[at:].rstrip("\r\n"))
    if m is None:
        return
    kind, rest = m.group(1), m.group(2) or ""
    if kind == "RUN":
        log.runs_seen += 1
        record = best_json(rest)
        if log.runs_seen > 1:
            log.warnings.append("the LAVA log holds more than one devbench run: only the first is used")
        elif isinstance(record, dict):
            log.run, log.run_dt = record, dt
        else:
            log.warnings.append("the DEVBENCH-RUN line in the LAVA log is unreadable")
        return
    if log.runs_seen > 1:
        return  # the output of a repeated test definition
    if kind == "PROBE":
        log.probe.append(_plain(rest))
    elif kind in ("CHANGE", "RESTORE"):
        record = best_json(rest)
        if isinstance(record, dict):
            (log.changes if kind == "CHANGE" else log.restores).append(record)
        else:
            log.warnings.append(f"unreadable DEVBENCH-{kind} line in the LAVA log: {rest[:120]!r}")
    elif kind == "WARN":
        log.warnings.append(_plain(rest))
    else:
        _payload_marker(log, kind, rest, dt)


def _payload_marker(log: LavaLog, kind: str, rest: str, dt: str | None) -> None:
    head, _, tail = rest.partition(" ")
    if not head.isdigit():
        log.warnings.append(f"unreadable DEVBENCH-{kind} line in the LAVA log: {rest[:120]!r}")
        return
    run = log.invocations.setdefault(int(head), PayloadRun(int(head)))
    if kind == "BEGIN":
        run.began = dt
    elif kind == "LINE":
        run.lines.append((dt or "", device_text(tail)))
    elif kind == "STDERR":
        run.stderr.append(_plain(tail))
    elif kind == "END":
        parts = tail.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            run.exit_code, run.line_count, run.ended = int(parts[0]), int(parts[1]), dt
        else:
            log.warnings.append(f"unreadable DEVBENCH-END line in the LAVA log: {rest[:120]!r}")
