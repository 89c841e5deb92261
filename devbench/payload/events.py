"""The payload's machine-readable output: JSON Lines on stdout, and its exit codes (pure)."""

from __future__ import annotations

import json
from typing import Any

from devbench.results.rows import vmas_field

# forkbench exit codes -> error kinds (payloads/forkbench.c keeps the same table)
EXIT_KINDS = {
    2: "bad-args",
    3: "kernel-lacks-anon-vma-name",
    4: "max-map-count-too-low",
    5: "out-of-memory",
    6: "vma-check-failed",
    7: "system-error",
}
SIGNALS = {6: "SIGABRT", 7: "SIGBUS", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM", 4: "SIGILL", 8: "SIGFPE"}


def parse_event(line: str) -> dict[str, Any] | None:
    """One payload event, or None for a line that is not one (kept as noise by the caller)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    if event["event"] == "batch":
        if (event.get("arm") not in ("named", "unnamed") or not isinstance(event.get("batch"), int)
                or not _ns_list(event.get("fork_ns"))):
            return None
    return event


def _ns_list(ns: Any, length: int | None = None) -> bool:
    """A list of non-negative integer nanoseconds (of that length, if given)."""
    return (isinstance(ns, list) and (length is None or len(ns) == length)
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in ns))


# Checks, kept whole in results.json. From payload 3, named_check and clear count the mappings of
# the payload's own address range (maps_in_range, named_in_range; anon_lines stays the whole
# process's count): named_check is ok when every one of its VMAs is named (none with placebo),
# clear when none is left named. A failed check is also an error event, kind vma-check-failed
# (exit code 6), whose "stage" names the check and whose counts are the ones that failed.
CHECK_EVENTS = ("start", "setup", "named_check", "clear")
RECORD_KEYS = ("target", "vmas", "scenario", "process_arm", "check", "time")


def event_record(event: dict[str, Any], target: str, scenario: str, process_arm: str,
                 batch_offset: int = 0, vmas: int | None = None) -> tuple[str, dict[str, Any]] | None:
    """What one event becomes in results.json, for a live run and a LAVA job's log alike:
    ("sample", record) for a batch, ("check", record) for start/setup/named_check/clear,
    ("error", record without its time) for an error event, ("end", {}) at the end; None for
    any other event. batch_offset: adaptive rounds number their batches on from earlier rounds.
    vmas: the VMA count the process was asked for (the plan's; part of every record's place)."""
    kind = event["event"]
    # the payload's own fields, never over the fields that place a record (a device's output
    # cannot rename its target, VMA count or scenario: the start event's own "vmas" gives way to the plan's)
    data = {k: v for k, v in event.items() if k not in ("event", *RECORD_KEYS)}
    place = {"target": target, **vmas_field(vmas), "scenario": scenario}
    if kind == "batch":
        rec = {**place, "arm": event["arm"], "batch": event["batch"] + batch_offset,
               "warmup": int(event.get("warmup", 0) or 0), "fork_ns": list(event["fork_ns"])}
        if _ns_list(event.get("exit_ns"), len(rec["fork_ns"])):  # payload 2: the child's exit, per fork
            rec["exit_ns"] = list(event["exit_ns"])
        return "sample", rec
    if kind in CHECK_EVENTS:
        return "check", {**data, **place, "process_arm": process_arm, "check": kind}
    if kind == "error":
        data = {k: v for k, v in data.items() if k not in ("kind", "message", "arm")}
        return "error", {**data, **place, "arm": event.get("arm"),
                         "kind": str(event.get("kind", "payload-error")), "message": str(event.get("message", ""))}
    if kind == "end":
        return "end", {}
    return None


def exit_error(exit_code: int, last_words: str) -> tuple[str, str]:
    """The error kind and message for a payload exit that no error event explained."""
    if exit_code in EXIT_KINDS:
        return EXIT_KINDS[exit_code], last_words or f"payload exited with code {exit_code}"
    if 128 < exit_code <= 128 + 64:  # a shell's "killed by signal N" (255 is no signal: ssh's own failure)
        sig = exit_code - 128
        name = SIGNALS.get(sig, f"signal {sig}")
        hint = " (the OOM killer, or a timeout)" if sig == 9 else ""
        return "payload-killed", f"payload killed by {name}{hint}" + (f": {last_words}" if last_words else "")
    if exit_code == 127:
        return "payload-not-runnable", last_words or "the device could not run the payload (exit 127)"
    return "payload-failed", f"payload exited with code {exit_code}" + (f": {last_words}" if last_words else "")
