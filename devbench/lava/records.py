"""One payload invocation's output -> results.json records (samples, checks, errors) (pure).

The same rules as a devbench run (payload.events.event_record, shared with run.invoke.EventSink; and
run_invocation's): batch events are samples, start/setup/named_check/clear are checks, error
events are errors; an exit that no error event
explains becomes an error of protocol.exit_error's kind; a clean exit with fewer forks than
planned is "incomplete".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from devbench.lava.logparse import PayloadRun
from devbench.payload.events import event_record, exit_error, parse_event
from devbench.results.rows import record_vmas, vmas_field, with_vmas


@dataclass
class Records:
    samples: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def invocation_records(target: str, inv: dict[str, Any], run: PayloadRun | None, time: str | None,
                       sweep: bool = False) -> Records:
    """inv: one entry of the DEVBENCH-RUN record's invocations; run: its output in the log.
    sweep: the run has several VMA counts (warnings name the count)."""
    out = Records()
    scenario, process_arm = str(inv["scenario"]), str(inv["arm"])
    vmas = record_vmas(inv, None)  # the run line's count (data: a positive integer, else none)
    label = with_vmas(scenario, vmas, sweep)
    one_arm = None if process_arm == "both" else process_arm
    _error = functools.partial(error_record, vmas=vmas)

    if run is None:
        out.errors.append(
            _error(
                target, scenario, one_arm, "incomplete", "not run: the LAVA log has no output of this scenario", time
            )
        )
        return out
    counts = {arm: 0 for arm in (("unnamed", "named") if process_arm == "both" else (process_arm,))}
    noise, explained = [], 0
    for dt, line in run.lines:
        event = parse_event(line)
        if event is None:
            noise.append(line)
            continue
        kind, rec = event_record(event, target, scenario, process_arm, vmas=vmas) or ("other", {})
        if kind == "sample":
            out.samples.append(rec)
            counts[rec["arm"]] = counts.get(rec["arm"], 0) + len(rec["fork_ns"])
        elif kind == "check":
            out.checks.append(rec)
        elif kind == "error":
            explained += 1
            out.errors.append({**rec, "time": dt or time})
    when = run.ended or time
    if run.exit_code is None:
        out.errors.append(
            _error(
                target,
                scenario,
                one_arm,
                "incomplete",
                "the LAVA log ends inside this scenario (no DEVBENCH-END): the job stopped or timed out",
                when,
            )
        )
    elif run.exit_code != 0 and explained == 0:
        kind, message = exit_error(run.exit_code, run.stderr[-1].strip() if run.stderr else "")
        out.errors.append({**_error(target, scenario, one_arm, kind, message, when), "exit_code": run.exit_code})
    elif run.exit_code == 0:
        expected = _forks(inv)
        for arm, n in counts.items():
            if expected is not None and n != expected:
                out.errors.append(
                    _error(
                        target, scenario, arm, "incomplete", f"{n} of {expected} fork samples received for {arm}", when
                    )
                )
    if run.line_count is not None and run.line_count != len(run.lines):
        out.warnings.append(f"{label}: {len(run.lines)} of {run.line_count} payload lines found in the LAVA log")
    if noise:
        out.warnings.append(f"{label}: {len(noise)} unparsed payload output line(s), first: {noise[0][:200]!r}")
    return out


def _forks(inv: dict[str, Any]) -> int | None:
    args = [str(a) for a in inv.get("args") or []]
    if "--forks" in args[:-1]:
        value = args[args.index("--forks") + 1]
        return int(value) if value.isdigit() else None
    return None


def error_record(target: str, scenario: str, arm: str | None, kind: str, message: str, time: str | None,
                 vmas: int | None = None) -> dict[str, Any]:
    return {"target": target, **vmas_field(vmas), "scenario": scenario, "arm": arm, "kind": kind, "message": message,
            "time": time}
