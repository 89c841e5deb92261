"""The restore journal: what devbench changed on a device, kept ON the device (pure format).

Every change is written to the journal before it is made (write-ahead), so a run whose host
died (SIGKILL, power, lost network) can be undone later by `devbench restore` or by the
next run on that device: each entry holds the value to put back. Restoring replays the
entries in reverse and then removes the journal.

A journal is data, not instructions (anyone who can write the work folder could have
written it). When read, every entry must be one of the settings devbench itself makes (the
cpufreq policy files, CPUs online, the Android framework, vm.max_map_count, kptr_restrict,
perf_event_paranoid: SETTINGS), named as devbench names it, with an old value of that
setting's shape; and its roots must be the sysfs/procfs of the config in force (check()).
The journal's own root prefix is never used: the replay runs with the root method the config
gives. Anything else is refused with one line, nothing written, the journal kept.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from devbench.device.procid import Owner, owner_from

SCHEMA = "devbench/restore-journal/1"
FILE_NAME = "restore-journal.json"
ROOT_PREFIXES = ((), ("su", "0"), ("sudo", "-n"))
KINDS = ("file", "range", "framework")
MAX_ENTRIES = 256  # one per policy file, CPU and sysctl: far more than any device has


@dataclass(frozen=True)
class Setting:
    """One kind of change devbench makes: where it lives, how devbench names it, and the
    shape its old value must have to be written back."""
    kind: str
    base: str  # "sys" or "proc": the root the path is under
    path: str  # regex below the root; group 1 (if any) goes into the label
    label: str  # "{}" is group 1
    value: str  # regex the old value must match


SETTINGS = (
    Setting("file", "sys", r"/devices/system/cpu/cpu([0-9]{1,4})/online", "cpu{} online", r"[01]"),
    Setting("file", "sys", r"/devices/system/cpu/cpufreq/(policy[0-9]{1,4})/scaling_governor", "{} scaling_governor",
            r"[A-Za-z0-9_-]{1,32}"),
    Setting("range", "sys", r"/devices/system/cpu/cpufreq/(policy[0-9]{1,4})/scaling_min_freq",
            "{} scaling_min_freq/scaling_max_freq", r"[0-9]{1,10} [0-9]{1,10}"),
    Setting("file", "proc", r"/sys/vm/max_map_count", "vm.max_map_count", r"[0-9]{1,10}"),
    Setting("file", "proc", r"/sys/kernel/kptr_restrict", "kernel.kptr_restrict", r"[0-2]"),
    Setting("file", "proc", r"/sys/kernel/perf_event_paranoid", "kernel.perf_event_paranoid", r"-?[0-9]{1,2}"),
    Setting("framework", "", r"", "android framework", r"running"),
)


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
    # The run's process start time and boot id (devbench.device.procid): with the host and pid they
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
        raise JournalError(
            f"{where}: not a devbench restore journal (schema "
            f"{data.get('schema') if isinstance(data, dict) else None!r})"
        )
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
        raise JournalError(f"{where}: malformed journal ({type(exc).__name__}: {str(exc)[:200]})") from None
    if j.root_prefix not in ROOT_PREFIXES:
        raise JournalError(f"{where}: unknown root prefix {repr(list(j.root_prefix))[:200]}")
    if len(j.entries) > MAX_ENTRIES:
        raise JournalError(f"{where}: {len(j.entries)} entries (devbench writes at most {MAX_ENTRIES})")
    for e in j.entries:
        problem = entry_problem(e, j.sysfs, j.procfs)
        if problem:
            raise JournalError(f"{where}: {problem}")
    return j


def check(j: Journal, sysfs: str, procfs: str, where: str) -> Journal:
    """The journal's roots must be the config's (`device.sysfs`, `device.procfs`): a journal
    never chooses where it writes."""
    for name, mine, theirs in (("sysfs", sysfs, j.sysfs), ("procfs", procfs, j.procfs)):
        if mine.rstrip("/") != theirs.rstrip("/"):
            raise JournalError(f"{where}: its {name} root {theirs!r} is not the config's device.{name} {mine!r}")
    return j


def entry_problem(e: Entry, sysfs: str, procfs: str) -> str | None:
    """Why devbench would not write this entry back (None: it is one of its own settings,
    with an old value of the right shape)."""
    name, where = e.setting[:80], e.path[:200]  # shown in one line, whatever the journal holds
    for path in (e.path, e.max_path) if e.kind == "range" else (e.path,) if e.kind == "file" else ():
        if not allowed_path(path, sysfs, procfs):
            return f"entry {name!r} names {path[:200]!r}, outside {sysfs} and {procfs}/sys"
    setting = match_setting(e, sysfs, procfs)
    if setting is None:
        return f"entry {name!r} ({e.kind} {where!r}) is not a setting devbench makes"
    if not re.fullmatch(setting.value, e.before):
        return f"entry {name!r}: old value {e.before[:80]!r} is not of its shape ({setting.value})"
    return None


def match_setting(e: Entry, sysfs: str, procfs: str) -> Setting | None:
    """The Setting an entry is, by kind, path and label; None if it is none of devbench's."""
    roots = {"sys": sysfs.rstrip("/"), "proc": procfs.rstrip("/"), "": ""}
    for s in SETTINGS:
        if s.kind != e.kind:
            continue
        if s.kind == "framework":
            if e.path == "" and e.setting == s.label:
                return s
            continue
        m = re.fullmatch(re.escape(roots[s.base]) + s.path, e.path)
        if m and e.setting == s.label.format(*m.groups()):
            return s
    return None


def allowed_path(path: str, sysfs: str, procfs: str) -> bool:
    """Only files below sysfs, or below procfs/sys (sysctls), without '..' or oddities."""
    if not path.startswith("/") or ".." in path.split("/") or any(c in path for c in "\n\0"):
        return False
    return any(path.startswith(base.rstrip("/") + "/") for base in (sysfs, procfs.rstrip("/") + "/sys"))


def _root(value: Any, where: str, name: str) -> str:
    """A sysfs root ends in /sys and a procfs root in /proc (the real ones, or a test's tree)."""
    if not isinstance(value, str) or not valid_root(value, name):
        raise JournalError(f"{where}: bad {name} root {repr(value)[:200]} (an absolute path ending in /{name})")
    return value


def valid_root(value: str, name: str) -> bool:
    return value.startswith("/") and ".." not in value.split("/") and value.rstrip("/").split("/")[-1] == name


def _entry(e: Any, where: str) -> Entry:
    if not isinstance(e, dict) or e.get("kind") not in KINDS:
        raise JournalError(f"{where}: bad entry {repr(e)[:200]}")
    entry = Entry(
        kind=e["kind"], setting=str(e.get("setting", "")), path=str(e.get("path", "")), before=str(e.get("before", ""))
    )
    if entry.kind == "range" and not re.fullmatch(r"\d+ \d+", entry.before):
        raise JournalError(
            f"{where}: range entry {entry.setting[:80]!r} needs 'MIN MAX' in kHz, has {entry.before[:80]!r}"
        )
    return entry
