"""The restore journal: what devbench changed on a device, kept ON the device (pure format).

Every change is written to the journal before it is made (write-ahead), so a run whose host
died (SIGKILL, power, lost network) can be undone later by `devbench restore` or by the
next run on that device: each entry holds the value to put back. Restoring replays the
entries in reverse and then removes the journal.

Entries are validated when read: only paths below the journal's own sysfs/procfs roots,
no "..", and only the root prefixes devbench itself uses; a journal that says anything
else is refused, not obeyed.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from devbench.procid import Owner, owner_from

SCHEMA = "devbench/restore-journal/1"
FILE_NAME = "restore-journal.json"
ROOT_PREFIXES = ((), ("su", "0"), ("sudo", "-n"))
KINDS = ("file", "range", "framework")


class JournalError(ValueError):
    """A journal on a device that devbench will not act on (the message says why)."""


@dataclass(frozen=True)
class Entry:
    kind: str  # "file": write `before` back to path; "range": min/max pair; "framework": `start`
    setting: str  # human name, e.g. "policy0 scaling_governor"
    path: str = ""  # file: the file; range: scaling_min_freq (max is its sibling)
    before: str = ""  # file: old content; range: "MIN MAX"; framework: "running"

    @property
    def max_path(self) -> str:
        return posixpath.join(posixpath.dirname(self.path), "scaling_max_freq")


@dataclass
class Journal:
    run_id: str
    host: str
    pid: int
    started: str
    sysfs: str
    procfs: str
    root_prefix: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)
    # The run's process start time and boot id (devbench.procid): with the host and pid they
    # say whether that run is still alive. None in journals written before they were kept;
    # such a journal's run counts as alive while any process has its pid (Owner.alive).
    pid_start: int | None = None
    boot_id: str | None = None

    @property
    def owner(self) -> Owner:
        return Owner(self.pid, self.pid_start, self.boot_id)

    def encode(self) -> str:
        data = asdict(self)
        data["root_prefix"] = list(self.root_prefix)
        return json.dumps({"schema": SCHEMA, **data}, indent=1)


def decode(text: str, where: str) -> Journal:
    """Parse and validate a journal read from `where` (a device path, for messages)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JournalError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise JournalError(f"{where}: not a devbench restore journal (schema {data.get('schema') if isinstance(data, dict) else None!r})")
    try:
        j = Journal(
            run_id=str(data["run_id"]), host=str(data["host"]), pid=int(data["pid"]), started=str(data["started"]),
            sysfs=_root(data["sysfs"], where, "sys"), procfs=_root(data["procfs"], where, "proc"),
            root_prefix=tuple(str(x) for x in data.get("root_prefix", [])),
            entries=[_entry(e, where) for e in data["entries"]],
        )
        owner = owner_from(data)
        if owner is not None:
            j.pid_start, j.boot_id = owner.start, owner.boot
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, JournalError):
            raise
        raise JournalError(f"{where}: malformed journal ({type(exc).__name__}: {exc})") from None
    if j.root_prefix not in ROOT_PREFIXES:
        raise JournalError(f"{where}: unknown root prefix {list(j.root_prefix)!r}")
    for e in j.entries:
        for path in (e.path, e.max_path) if e.kind == "range" else (e.path,) if e.kind == "file" else ():
            if not allowed_path(path, j.sysfs, j.procfs):
                raise JournalError(f"{where}: entry {e.setting!r} names {path!r}, outside {j.sysfs} and {j.procfs}/sys")
    return j


def allowed_path(path: str, sysfs: str, procfs: str) -> bool:
    """Only files below sysfs, or below procfs/sys (sysctls), without '..' or oddities."""
    if not path.startswith("/") or ".." in path.split("/") or any(c in path for c in "\n\0"):
        return False
    return any(path.startswith(base.rstrip("/") + "/") for base in (sysfs, procfs.rstrip("/") + "/sys"))


def _root(value: Any, where: str, name: str) -> str:
    """A sysfs root ends in /sys and a procfs root in /proc (the real ones, or a test's tree)."""
    if not isinstance(value, str) or not valid_root(value, name):
        raise JournalError(f"{where}: bad {name} root {value!r} (an absolute path ending in /{name})")
    return value


def valid_root(value: str, name: str) -> bool:
    return value.startswith("/") and ".." not in value.split("/") and value.rstrip("/").split("/")[-1] == name


def _entry(e: Any, where: str) -> Entry:
    if not isinstance(e, dict) or e.get("kind") not in KINDS:
        raise JournalError(f"{where}: bad entry {e!r}")
    entry = Entry(kind=e["kind"], setting=str(e.get("setting", "")), path=str(e.get("path", "")), before=str(e.get("before", "")))
    if entry.kind == "range" and not re.fullmatch(r"\d+ \d+", entry.before):
        raise JournalError(f"{where}: range entry {entry.setting!r} needs 'MIN MAX' in kHz, has {entry.before!r}")
    return entry
