"""Undoing a run whose host died: the restore journal left on a device.

Used at the start of every run on a device (so a new run never measures, or snapshots as
"before", a device a dead run left locked) and by `devbench restore` (restore_targets).

The journal is read only from a private work folder (device/workdir.py), only when the file
is devbench's own, and only as data: its entries must be devbench's own settings under the
config's sysfs/procfs (journal.check), and they are written back with the root method the
config in force gives (device.root), never with one the journal names.
"""

from __future__ import annotations

import os
import posixpath
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devbench.config import Config, DeviceConfig
from devbench.device.access import DeviceAccess
from devbench.device.journal import FILE_NAME, Journal, JournalError, check, decode
from devbench.device.lock import force_release
from devbench.device.privilege import acquire_root, current_uid
from devbench.device.tuning import replay
from devbench.device.workdir import check_file, ensure_private
from devbench.errors import DevbenchError, TargetError
from devbench.targets import open_target, started_by_devbench
from devbench.targets.base import Target, close_quietly


def journal_path(workdir: str) -> str:
    return posixpath.join(workdir, FILE_NAME)


def read_journal(access: DeviceAccess, path: str, device: DeviceConfig) -> Journal | None:
    """The journal at path, checked against the config in force; None when there is none.
    TargetError (step "restore journal" or "work folder"), nothing written, when it is not to
    be trusted."""
    if not check_file(access.target, path):
        return None
    text = access.read_text(path)
    if text is None:
        return None
    where = f"{access.name}:{path}"
    try:
        return check(decode(text, where), device.sysfs, device.procfs, where)
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
        return f"{head}: {len(j.entries)} setting(s) restored" + (
            f" ({', '.join(self.restored)})" if self.restored else ""
        )


def recover(target: Target, workdir: str, device: DeviceConfig | None = None) -> Recovery:
    """Replay and remove a journal a previous run left; refuses one whose devbench is alive
    here, and one that is not devbench's own data (see the module's doc)."""
    device = device or DeviceConfig()
    path = journal_path(workdir)
    ensure_private(target, workdir)
    journal = read_journal(DeviceAccess(target), path, device)
    if journal is None:
        return Recovery()
    if journal.host == socket.gethostname() and journal.pid != os.getpid() and journal.owner.alive():
        raise TargetError(target.name, "restore journal",
                          f"the device is in use by devbench pid {journal.pid} on this host (run {journal.run_id}); "
                          f"wait for it, or stop it (its journal: {path})")
    root = acquire_root(target, current_uid(target), device.root) if journal.entries else None
    if journal.entries and not (root and root.ok):
        raise TargetError(target.name, "restore journal",
                          f"{path} holds {len(journal.entries)} setting(s) to put back, but device.root is "
                          f"{device.root!r} and gives no root here: nothing written, the journal is kept")
    access = DeviceAccess(target, root.prefix if root else ())
    errors = replay(access, journal, None, device.boot_timeout_s)
    if not errors:
        access.remove(path)
    return Recovery(journal, [e.setting for e in journal.entries], errors)


def restore_targets(cfg: Config) -> Iterator[tuple[str, bool, str]]:
    """(target, ok, one line) per target of cfg."""
    for tcfg in cfg.targets:
        if started_by_devbench(tcfg):  # labgrid places are restored like SSH devices
            yield tcfg.name, True, f"nothing to restore: a {tcfg.kind} device started by devbench ends with its run"
            continue
        target = None
        try:
            with tempfile.TemporaryDirectory(prefix="devbench-restore-") as scratch:
                target = open_target(tcfg, Path(scratch), lambda text: None)
                rec = recover(target, target.workdir, cfg.device)
                unlocked = not rec.errors and force_release(target, target.workdir)
                yield tcfg.name, not rec.errors, rec.summary() + ("; removed its device lock" if unlocked else "")
        except DevbenchError as exc:
            yield tcfg.name, False, f"not restored: {exc}"
        finally:
            close_quietly(target)
