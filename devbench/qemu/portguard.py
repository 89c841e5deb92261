"""Only devbench and the adb server it talks through reach a QEMU guest's forwarded ports.

A guest's adbd (and sshd) are forwarded to loopback ports of this machine; adbd gives a root
shell in the guest to whoever connects, so any local user could otherwise change what is
measured while a run goes on. Where devbench runs as root and ``nft`` is there, the ports get
a :class:`devbench.guest.guard.TrafficGuard` (an nftables table of their own, deleted by handle
when the guest stops) that lets through only devbench's uid (and root's, when a config names
a root-owned adb server). devbench talks to its guests through an adb server of its own
(devbench.guest.adbserver, guarded the same way), never through one another user could own;
a server a config names is used only when ``server_owner`` finds it devbench's or root's.
Elsewhere the guest runs unguarded: its facts say why (``ports_guard``) and the run warns.

``listener_uids`` is pure (``/proc/net/tcp`` and ``tcp6`` texts in, uids out).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from devbench.guest.errors import LabError
from devbench.guest.guard import LoopbackPort, TrafficGuard, nft_binary

_LISTEN = "0A"
# local addresses a loopback client can reach: 127.0.0.1, ::1, and the wildcards
_LOOPBACK = {"0100007F", "00000000", "00000000000000000000000001000000", "00000000000000000000000000000000",
             "0000000000000000FFFF00000100007F"}


def listener_uids(tables: Iterable[str], port: int) -> set[int]:
    """Owners of the sockets listening on ``port`` on loopback, from ``/proc/net/tcp{,6}``."""
    uids: set[int] = set()
    for text in tables:
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 8 or f[3] != _LISTEN:
                continue
            addr, _, hexport = f[1].partition(":")
            try:
                if int(hexport, 16) != port or addr.upper() not in _LOOPBACK:
                    continue
                uids.add(int(f[7]))
            except ValueError:
                continue
    return uids


def unavailable() -> str | None:
    """Why the ports cannot be guarded here, or None."""
    if os.geteuid() != 0:
        return "devbench is not root (nftables needs root)"
    try:
        nft_binary()
    except LabError:
        return "nft not found (install nftables)"
    return None


def proc_net() -> list[str]:
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii", errors="replace") as f:
                out.append(f.read())
        except OSError:
            pass
    return out


def server_owner(tables: Iterable[str], port: int, me: int) -> int:
    """The uid of the adb server a config names on loopback ``port``: the one owner of every
    listener there, devbench's uid or root's. Raises ValueError (the reason) otherwise: no
    listener; listeners of several users (someone listening on [::1]:PORT beside the server);
    or another user's server, which would be admitted to the guest and answer anyone it lets in."""
    uids = listener_uids(tables, port)
    if not uids:
        raise ValueError(f"nothing listens on port {port} on loopback")
    if len(uids) > 1:
        raise ValueError(f"port {port} on loopback is listened on by several users (uids {sorted(uids)})")
    [uid] = uids
    if uid not in (me, 0):
        raise ValueError(f"the adb server on port {port} belongs to uid {uid}, not devbench's uid {me} or root")
    return uid


def guard_ports(ports: Iterable[int], uids: Iterable[int], name: str) -> tuple[TrafficGuard | None, str]:
    """Start a guard on ``ports``; returns (the guard, what the facts say). Never raises: a guest
    that cannot be guarded runs unguarded, and says so."""
    why = unavailable()
    if why is not None:
        return None, f"unguarded: {why}"
    uids = tuple(sorted(set(uids)))
    guard = TrafficGuard([LoopbackPort(p) for p in ports], uid=uids, tag="qemu" + name)
    try:
        guard.start()
    except LabError as exc:
        return None, f"unguarded: {exc}"
    return guard, "nftables: uid " + ",".join(map(str, uids)) + " only"
