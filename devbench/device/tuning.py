"""Applying a tuning plan to a device and always undoing it.

Each action reads the current value, writes a journal entry holding it ON the device
(write-ahead), makes the change, and reads it back. Restoring replays the journal in
reverse, re-reads every value, and removes the journal only when all came back. The same
replay undoes a journal left by a run whose host died (device/restore.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from devbench.device.access import DeviceAccess
from devbench.device.actions import Action, TuningPlan
from devbench.device.cpufreq import range_writes
from devbench.device.journal import Entry, Journal, entry_problem
from devbench.errors import ConnectionLost, TargetError
from devbench.run.signals import signals_deferred

FRAMEWORK_PROP = "init.svc.zygote"
STOP_TIMEOUT_S = 30.0


@dataclass
class Change:
    setting: str
    before: str
    after: str
    path: str = ""
    why: str = ""
    verified: bool = True  # the value read back is the one written
    restored: bool | None = None  # None: not (yet) restored, or nothing to restore
    restored_value: str | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class Tuner:
    """Applies actions one by one, journaled; restore() undoes them all in reverse."""

    def __init__(self, access: DeviceAccess, journal_path: str, journal: Journal, *,
                 warn: Callable[[str], None], record: Callable[[list[Change]], None], boot_timeout_s: float,
                 restore_failed: Callable[[str], None] | None = None):
        self.restore_failed = restore_failed or warn
        self.access = access
        self.journal_path = journal_path
        self.journal = journal
        self.warn = warn
        self.record = record
        self.boot_timeout_s = boot_timeout_s
        self.changes: list[Change] = []  # one per journal entry, same order
        self.extra: list[Change] = []  # applied but not journaled (scaling_setspeed)

    def apply(self, action: Action) -> None:
        a = self.access
        if action.kind == "framework":
            before = a.getprop(FRAMEWORK_PROP) or "unknown"
            self._journal(
                Entry("framework", action.setting, before="running"),
                Change(action.setting, before, "?", why=action.why),
            )
            res = a.run(["stop"], root=True, timeout=60)
            if not res.ok:
                raise TargetError(a.name, "stop framework", res.last_words() or f"`stop` exit {res.exit_code}")
            stopped = a.wait_prop(FRAMEWORK_PROP, "stopped", STOP_TIMEOUT_S)
            self._done(after=a.getprop(FRAMEWORK_PROP) or "unknown", verified=stopped)
            if not stopped:
                self.warn(
                    f"framework still running: `stop` ran but {FRAMEWORK_PROP} is not 'stopped' after "
                    f"{STOP_TIMEOUT_S:.0f} s"
                )
        elif action.kind == "range":
            lo_path, hi_path = action.path, Entry("range", "", action.path).max_path
            cur_lo, cur_hi = _int_or_none(a.read(lo_path)), _int_or_none(a.read(hi_path))
            if not self._journal(Entry("range", action.setting, lo_path, f"{cur_lo} {cur_hi}"),
                                 Change(action.setting, f"{cur_lo} {cur_hi}", "?", lo_path, action.why)):
                return
            new_lo, new_hi = (int(x) for x in action.value.split())
            _write_range(a, lo_path, new_lo, new_hi, cur_lo, cur_hi)
            after = f"{a.read(lo_path)} {a.read(hi_path)}"
            self._done(after=after, verified=after == action.value)
            if after != action.value:
                self.warn(f"clocks not locked: {action.setting} set to {action.value} but reads back {after}")
        elif action.kind == "setspeed":
            before = a.read(action.path)
            a.write(action.path, action.value)
            after = a.read(action.path)
            self.extra.append(Change(action.setting, before, after, action.path, action.why, after == action.value))
            self.record(self.all_changes)
            if after != action.value:
                self.warn(f"clocks not locked: {action.setting} set to {action.value} but reads back {after}")
        else:
            before = a.read(action.path)
            if before == action.value:
                return  # already so: nothing to change, nothing to restore
            if not self._journal(Entry("file", action.setting, action.path, before),
                                 Change(action.setting, before, "?", action.path, action.why)):
                return
            a.write(action.path, action.value)
            after = a.read(action.path)
            self._done(after=after, verified=after == action.value)
            if after != action.value:
                self.warn(f"{action.setting} set to {action.value} but reads back {after}")

    @property
    def all_changes(self) -> list[Change]:
        return self.changes + self.extra

    def _journal(self, entry: Entry, change: Change) -> bool:
        """Journal an entry before its change; False (a warning, nothing changed) when the entry
        is not one a later replay would accept, e.g. an old value not of its setting's shape:
        what could not be put back is not changed."""
        problem = entry_problem(entry, self.journal.sysfs, self.journal.procfs)
        if problem:
            self.warn(f"{entry.setting} left unchanged: {problem}")
            return False
        self.journal.entries.append(entry)
        self.access.write_text(self.journal_path, self.journal.encode())  # before the change is made
        self.changes.append(change)
        self.record(self.all_changes)
        return True

    def _done(self, *, after: str, verified: bool) -> None:
        self.changes[-1].after = after
        self.changes[-1].verified = verified
        self.record(self.all_changes)

    def restore(self) -> list[str]:
        """Undo every journaled change in reverse; errors as one-line messages (empty: all back).
        Signals wait until the journal is gone too: a device restored but with its journal
        left would be restored again by the next run."""
        with signals_deferred():
            return self._restore()

    def _restore(self) -> list[str]:
        errors = replay(self.access, self.journal, self.changes, self.boot_timeout_s)
        for c in self.extra:
            c.restored = None  # scaling_setspeed means nothing once the governor is back
        if not errors:
            try:
                self.access.remove(self.journal_path)
            except TargetError as exc:
                errors.append(f"journal: {exc.step}: {exc.message}")
        self.record(self.all_changes)
        return errors


def _write_range(a: DeviceAccess, lo_path: str, lo: int, hi: int, cur_lo: int | None, cur_hi: int | None) -> None:
    paths = {"scaling_min_freq": lo_path, "scaling_max_freq": Entry("range", "", lo_path).max_path}
    for name, value in range_writes(lo, hi, cur_lo, cur_hi):
        a.write(paths[name], str(value))


def undo(a: DeviceAccess, entry: Entry, boot_timeout_s: float) -> str:
    """Put one entry's old value back; returns the value read afterwards."""
    if entry.kind == "framework":
        res = a.run(["start"], root=True, timeout=60)
        if not res.ok:
            raise TargetError(a.name, "start framework", res.last_words() or f"`start` exit {res.exit_code}")
        if not a.wait_prop("sys.boot_completed", "1", boot_timeout_s):
            raise TargetError(a.name, "start framework", f"sys.boot_completed is not 1 after {boot_timeout_s:.0f} s")
        return a.getprop(FRAMEWORK_PROP) or "unknown"
    if entry.kind == "range":
        lo, hi = (int(x) for x in entry.before.split())
        cur_lo, cur_hi = _int_or_none(a.read(entry.path)), _int_or_none(a.read(entry.max_path))
        _write_range(a, entry.path, lo, hi, cur_lo, cur_hi)
        return f"{a.read(entry.path)} {a.read(entry.max_path)}"
    a.write(entry.path, entry.before)
    return a.read(entry.path)


def replay(
    a: DeviceAccess, journal: Journal, changes: list[Change] | None = None, boot_timeout_s: float = 180.0
) -> list[str]:
    """Undo journal entries in reverse order, going on past failures; marks `changes`
    (one per entry) restored or not. Signals wait until it is done."""
    errors = []
    with signals_deferred():
        for i in reversed(range(len(journal.entries))):
            entry = journal.entries[i]
            try:
                value = undo(a, entry, boot_timeout_s)
                ok = value == entry.before
                if not ok:
                    errors.append(f"{entry.setting}: wrote {entry.before!r} back but it reads {value!r}")
            except TargetError as exc:
                value, ok = None, False
                errors.append(f"{entry.setting}: {exc.step}: {exc.message}")
            if changes is not None and i < len(changes):
                changes[i].restored, changes[i].restored_value = ok, value
    return errors


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@contextlib.contextmanager
def tuned(tuner: Tuner, plan: TuningPlan) -> Iterator[Tuner]:
    """Apply the plan's actions, yield, and always restore (success, exception, Ctrl-C, SIGTERM).

    A restore that fails after a clean run raises TargetError (step "restore") once every
    entry was tried; after an exception it is reported through tuner.restore_failed and the
    original exception goes on."""
    clean = lost = False
    try:
        for action in plan.actions:
            with signals_deferred():  # a change and its journal entry go together
                tuner.apply(action)
        yield tuner
        clean = True
    except ConnectionLost:
        lost = True  # no restore over a dead connection: the journal on the device has it all
        raise
    finally:
        errors = [] if lost else tuner.restore()
        if errors:
            message = (f"{len(errors)} setting(s) not restored ({'; '.join(errors)}); the journal "
                       f"{tuner.journal_path} stays on the device for `devbench restore`")
            if clean:
                raise TargetError(tuner.access.name, "restore", message)
            tuner.restore_failed(message)
