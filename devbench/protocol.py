"""The payload's machine-readable output: JSON Lines on stdout, and its exit codes (pure)."""

from __future__ import annotations

import json
from typing import Any

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
        ns = event.get("fork_ns")
        if (event.get("arm") not in ("named", "unnamed") or not isinstance(event.get("batch"), int)
                or not isinstance(ns, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in ns)):
            return None
    return event


def exit_error(exit_code: int, last_words: str) -> tuple[str, str]:
    """The error kind and message for a payload exit that no error event explained."""
    if exit_code in EXIT_KINDS:
        return EXIT_KINDS[exit_code], last_words or f"payload exited with code {exit_code}"
    if exit_code > 128:
        sig = exit_code - 128
        name = SIGNALS.get(sig, f"signal {sig}")
        hint = " (the OOM killer, or a timeout)" if sig == 9 else ""
        return "payload-killed", f"payload killed by {name}{hint}" + (f": {last_words}" if last_words else "")
    if exit_code == 127:
        return "payload-not-runnable", last_words or "the device could not run the payload (exit 127)"
    return "payload-failed", f"payload exited with code {exit_code}" + (f": {last_words}" if last_words else "")
