"""Undoing a run whose host died: the restore journal left on a device.

Used at the start of every run on a device (so a new run never measures, or snapshots as
"before", a device a dead run left locked) and by `devbench restore`.
"""

from __future__ import annotations

import os
import posixpath
import socket
from dataclasses import dataclass, field

from devbench.device.access import DeviceAccess
from devbench.device.journal import FILE_NAME, Journal, JournalError, decode
from devbench.device.tuning import replay
from devbench.errors import TargetError
from devbench.targets.base import Target


def journal_path(workdir: str) -> str:
    return posixpath.join(workdir, FILE_NAME)


def read_journal(access: DeviceAccess, path: str) -> Journal | None:
    text = access.read_text(path)
    if text is None:
        return None
    try:
        return decode(text, f"{access.name}:{path}")
    except JournalError as exc:
        raise TargetError(access.name, "restore journal", str(exc)) from None


@dataclass
class Recovery:
    journal: Journal | None = None
    restored: list[str] = field(default_factory=list)  # settings put back
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        j = self.journal
        if j is None:
            return "no restore journal on the device: nothing to undo"
        head = f"undid run {j.run_id} (devbench pid {j.pid} on {j.host}, started {j.started})"
        if self.errors:
            return f"{head}: {len(self.errors)} of {len(j.entries)} setting(s) NOT restored: {'; '.join(self.errors)}"
        return f"{head}: {len(j.entries)} setting(s) restored" + (f" ({', '.join(self.restored)})" if self.restored else "")


def recover(target: Target, workdir: str, boot_timeout_s: float = 180.0) -> Recovery:
    """Replay and remove a journal a previous run left; refuses one whose devbench is alive here."""
    path = journal_path(workdir)
    probe_access = DeviceAccess(target)
    journal = read_journal(probe_access, path)
    if journal is None:
        return Recovery()
    if journal.host == socket.gethostname() and journal.pid != os.getpid() and journal.owner.alive():
        raise TargetError(target.name, "restore journal",
                          f"the device is in use by devbench pid {journal.pid} on this host (run {journal.run_id}); "
                          f"wait for it, or stop it (its journal: {path})")
    access = DeviceAccess(target, journal.root_prefix)
    errors = replay(access, journal, None, boot_timeout_s)
    if not errors:
        access.remove(path)
    return Recovery(journal, [e.setting for e in journal.entries], errors)

