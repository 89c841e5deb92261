"""Getting root on a device: already uid 0, `adb root`, `su 0`, or `sudo -n` (in that order)."""

from __future__ import annotations

from dataclasses import dataclass

from devbench.errors import TargetError
from devbench.targets.base import Target


@dataclass(frozen=True)
class Root:
    method: str | None  # "uid 0", "adb root", "su", "sudo"; None: no root
    prefix: tuple[str, ...] = ()  # put before a command to run it as root

    @property
    def ok(self) -> bool:
        return self.method is not None


def _uid(target: Target, prefix: tuple[str, ...]) -> str:
    try:
        res = target.run([*prefix, "id", "-u"], timeout=20)
    except TargetError:
        return ""
    return res.stdout.strip() if res.ok else ""


def current_uid(target: Target) -> int | None:
    """The uid the device's commands run as (None when `id -u` says nothing usable)."""
    uid = _uid(target, ())
    return int(uid) if uid.isdigit() and len(uid) < 11 else None


def acquire_root(target: Target, uid: int | None, mode: str) -> Root:
    """Root as the config asks (`device.root`: auto, require, never)."""
    if mode == "never":
        return Root(None)
    if uid == 0:
        return Root("uid 0")
    adb_root = getattr(target, "adb_root", None)
    if callable(adb_root) and adb_root() and _uid(target, ()) == "0":
        return Root("adb root")
    for method, prefix in (("su", ("su", "0")), ("sudo", ("sudo", "-n"))):
        if _uid(target, prefix) == "0":
            return Root(method, prefix)
    if mode == "require":
        raise TargetError(
            target.name, "root", "device.root is 'require' but neither adb root, `su 0` nor `sudo -n` gives uid 0"
        )
    return Root(None)
