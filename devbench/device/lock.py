"""One devbench at a time per device: a lock directory on the device itself.

`mkdir WORKDIR/.lock` is atomic on every filesystem a device has, so two devbench processes
(on this host or on two hosts of a lab) cannot both get it. The owner (host, pid, run, time)
is written inside; a lock whose devbench process is dead on this host is taken over with a
warning, any other is refused with a message that says whose it is. "Dead" is decided by the
owner's PID, process start time and boot id (devbench.device.procid.Owner.alive), never by the
process's name or command line; a lock written without a start time counts as alive while
any process has its PID.
"""

from __future__ import annotations

import json
import posixpath
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from devbench.device.procid import Owner, owner_from
from devbench.device.workdir import ensure_private
from devbench.errors import TargetError
from devbench.targets.base import Target

_TAKE = r"""
mkdir -p "$1" || exit 3
if mkdir "$1/.lock" 2>/dev/null; then printf '%s\n' "$2" > "$1/.lock/owner"; echo "lock=acquired"
else echo "lock=held"; cat "$1/.lock/owner" 2>/dev/null; fi
"""


@dataclass
class DeviceLock:
    target: Target
    path: str
    owner: dict[str, object]

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        self.target.run(["sh", "-c", 'if grep -qF "$2" "$1/owner" 2>/dev/null; then rm -rf "$1"; fi', "sh", self.path,
                         json.dumps(self.owner["run_id"])], timeout=30)


def acquire(target: Target, workdir: str, run_id: str, warn: Callable[[str], None]) -> DeviceLock:
    owner = {"host": socket.gethostname(), **Owner.me().fields(), "run_id": run_id,
             "since": datetime.now(UTC).isoformat(timespec="seconds")}
    path = posixpath.join(workdir, ".lock")
    ensure_private(target, workdir)  # the first thing a run does in its work folder
    for attempt in (1, 2):
        res = target.run(["sh", "-c", _TAKE, "sh", workdir, json.dumps(owner)], timeout=30)
        if "lock=acquired" in res.stdout:
            return DeviceLock(target, path, owner)
        if "lock=held" not in res.stdout:
            raise TargetError(
                target.name, "lock", f"cannot create {path}: {res.last_words() or f'exit {res.exit_code}'}"
            )
        held = _owner(res.stdout.split("lock=held", 1)[1])
        stale = held.get("host") == owner["host"] and _dead(held)
        if attempt == 1 and (stale or not held):
            warn(f"removed a stale device lock {path} ({_who(held) if held else 'no owner recorded'})")
            target.run(["rm", "-rf", path], timeout=30)
            continue
        raise TargetError(
            target.name,
            "lock",
            f"the device is in use by {_who(held)} (lock {path}); if that run is dead, "
            "`devbench restore CONFIG --target NAME` undoes it and removes the lock",
        )
    raise AssertionError("unreachable")


def force_release(target: Target, workdir: str) -> bool:
    """Remove a lock whatever its owner (devbench restore); True if there was one."""
    path = posixpath.join(workdir, ".lock")
    res = target.run(["sh", "-c", 'if [ -d "$1" ]; then rm -rf "$1" && echo removed; fi', "sh", path], timeout=30)
    return "removed" in res.stdout


def _dead(held: dict[str, object]) -> bool:
    """The lock's owner process (recorded on this host) is dead (False if it records no pid)."""
    who = owner_from(held)
    return who is not None and not who.alive()


def _owner(text: str) -> dict[str, object]:
    try:
        data = json.loads(text.strip() or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _who(owner: dict[str, object]) -> str:
    return (f"devbench pid {owner.get('pid')} on {owner.get('host')} (run {owner.get('run_id')}, since "
            f"{owner.get('since')})")
