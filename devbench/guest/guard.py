"""Lab traffic guard: only the lab's own uid (root) reaches a lab device or a lab adb server.

The lab's adbd (Debian's build has no RSA authentication) gives a root shell to whoever
connects, and the tests' adb server on loopback gives the same to whoever talks to it. Any
process on this machine could otherwise do both. A guard is an nftables table of its own
(family ``inet``: IPv4 and IPv6, link-local addresses included), created when the lab part
starts and deleted by its handle when it stops, so the host's ruleset is left as found:

- hook ``output``: a packet from a socket whose owner (``meta skuid``) is not the allowed uid
  is rejected when it leaves through a guarded interface (a lab device's host-side veth: adbd,
  sshd, everything on it), or goes to a guarded TCP port on loopback (the adb server's).
  TCP gets a reset (the caller's connect fails at once with ECONNREFUSED), anything else an
  ICMP "administratively prohibited". Packets with no socket (the kernel's own replies) pass.
- hook ``forward``: nothing is routed into a guarded interface (another namespace or a
  container with a route to it).

Root can always undo this (root owns the ruleset); the boundary is "no other user".
``ruleset()`` and ``rejected_packets()`` are pure; :class:`TrafficGuard` does the I/O.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from .errors import LabError

FAMILY = "inet"
TABLE_PREFIX = "devbench_lab_"
_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Interface:
    """Everything that leaves through interface ``name`` (a lab device's host-side veth)."""

    name: str


@dataclass(frozen=True)
class LoopbackPort:
    """TCP to ``port`` on loopback (a lab adb server's)."""

    port: int


Guarded = Interface | LoopbackPort


Uids = int | Sequence[int]  # who may pass: one uid, or several (a QEMU guest: devbench's and its adb server's)


def _uids(uid: Uids) -> tuple[int, ...]:
    return tuple(sorted(set(uid))) if not isinstance(uid, int) else (uid,)


def _check(table: str, guarded: Sequence[Guarded], uid: Uids) -> None:
    if not _TABLE.fullmatch(table):
        raise LabError("guard", f"bad nftables table name {table!r}")
    if not guarded:
        raise LabError("guard", "nothing to guard")
    uids = _uids(uid) if isinstance(uid, (int, list, tuple)) else ()
    if not uids or not all(isinstance(u, int) and not isinstance(u, bool) and 0 <= u < 2**32 - 1 for u in uids):
        raise LabError("guard", f"bad uid {uid!r}")
    for g in guarded:
        if isinstance(g, Interface):
            if not _IFNAME.fullmatch(g.name):
                raise LabError("guard", f"bad interface name {g.name!r}")
        elif isinstance(g, LoopbackPort):
            if not (isinstance(g.port, int) and 0 < g.port < 65536):
                raise LabError("guard", f"bad port {g.port!r}")
        else:
            raise LabError("guard", f"cannot guard {g!r}")


def _match(g: Guarded) -> str:
    if isinstance(g, Interface):
        return f'oifname "{g.name}"'
    return f'oifname "lo" tcp dport {g.port}'


def ruleset(table: str, guarded: Sequence[Guarded], uid: Uids) -> str:
    """The ``nft -f`` script that creates ``table`` (it fails if the table exists: ``create``)."""
    _check(table, guarded, uid)
    uids = _uids(uid)
    uid = uids[0] if len(uids) == 1 else "{ " + ", ".join(map(str, uids)) + " }"  # type: ignore[assignment]
    t = f"{FAMILY} {table}"
    lines = [f"create table {t}",
             f"add chain {t} output {{ type filter hook output priority 0; policy accept; }}",
             f"add chain {t} forward {{ type filter hook forward priority 0; policy accept; }}"]
    for g in guarded:
        m = _match(g)
        if isinstance(g, Interface):
            lines.append(f"add rule {t} output {m} meta skuid != {uid} meta l4proto tcp counter reject with tcp reset")
            lines.append(f"add rule {t} output {m} meta skuid != {uid} counter reject with icmpx type admin-prohibited")
            lines.append(f"add rule {t} forward {m} counter drop")
        else:
            lines.append(f"add rule {t} output {m} meta skuid != {uid} counter reject with tcp reset")
    return "\n".join(lines) + "\n"


def table_info(listing: str, table: str) -> tuple[int | None, int]:
    """From ``nft -j list table``'s output: (the table's handle, packets the rules dropped or rejected)."""
    try:
        items = json.loads(listing).get("nftables", [])
    except (ValueError, AttributeError) as e:
        raise LabError("guard", f"nft -j output not understood: {e}") from e
    handle: int | None = None
    packets = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        t = item.get("table")
        if isinstance(t, dict) and t.get("name") == table and isinstance(t.get("handle"), int):
            handle = t["handle"]
        rule = item.get("rule")
        if isinstance(rule, dict) and rule.get("table") == table:
            for expr in rule.get("expr", []):
                counter = expr.get("counter") if isinstance(expr, dict) else None
                if isinstance(counter, dict) and isinstance(counter.get("packets"), int):
                    packets += counter["packets"]
    return handle, packets


def nft_binary() -> str:
    path = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None)
    if path is None:
        raise LabError("guard", "nft not found: install nftables (scripts/dev apt lists it)")
    return path


def _nft(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([nft_binary(), *args], input=stdin, capture_output=True, text=True,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def list_tables() -> list[str]:
    """Names of this machine's ``inet`` tables that are lab guards (``devbench_lab_*``)."""
    cp = _nft("-j", "list", "tables", FAMILY)
    if cp.returncode != 0:
        raise LabError("guard", f"nft list tables: {cp.stderr.strip()} (exit {cp.returncode})")
    out = []
    for item in json.loads(cp.stdout).get("nftables", []):
        t = item.get("table") if isinstance(item, dict) else None
        if isinstance(t, dict) and str(t.get("name", "")).startswith(TABLE_PREFIX):
            out.append(str(t["name"]))
    return out


def owner_pid(table: str) -> int | None:
    """The PID a guard's table name carries (``devbench_lab_[TAG_]PID_RANDOM``), or None."""
    m = re.fullmatch(re.escape(TABLE_PREFIX) + r"(?:[A-Za-z0-9]+_)?(\d+)_[0-9a-f]{8}", table)
    return int(m.group(1)) if m else None


def sweep_stale() -> list[str]:
    """Delete the guard tables whose process is gone (a lab killed with SIGKILL): a stale one
    would refuse other users a port or interface name that something else uses later.
    Returns their names. A table whose PID is alive (even reused) is kept."""
    removed = []
    for table in list_tables():
        pid = owner_pid(table)
        if pid is None or os.path.exists(f"/proc/{pid}"):
            continue
        if _nft("delete", "table", FAMILY, table).returncode == 0:
            removed.append(table)
    return removed


class TrafficGuard:
    """An nftables table that lets only ``uid`` (default: this process's euid) reach ``guarded``.

    Use as a context manager, or :meth:`start` and :meth:`stop` (idempotent). ``table`` is
    unique (pid and a random part); ``handle`` is the kernel's handle of it once started.
    """

    def __init__(self, guarded: Sequence[Guarded], *, uid: Uids | None = None, tag: str = "") -> None:
        self.guarded = tuple(guarded)
        self.uid: Uids = os.geteuid() if uid is None else uid
        clean = re.sub(r"[^A-Za-z0-9]", "", tag)[:20]
        self.table = f"{TABLE_PREFIX}{clean + '_' if clean else ''}{os.getpid()}_{secrets.token_hex(4)}"
        self.handle: int | None = None
        self.swept: list[str] = []  # stale tables of dead labs removed when this one started
        _check(self.table, self.guarded, self.uid)

    def __enter__(self) -> TrafficGuard:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _listing(self) -> subprocess.CompletedProcess[str]:
        return _nft("-j", "list", "table", FAMILY, self.table)

    def start(self) -> TrafficGuard:
        if self.handle is not None:
            raise LabError("guard", f"{self.table} already started")
        self.swept = sweep_stale()
        cp = _nft("-f", "-", stdin=ruleset(self.table, self.guarded, self.uid))
        if cp.returncode != 0:
            raise LabError("guard", f"nft -f (table {FAMILY} {self.table}): {cp.stderr.strip()} (exit {cp.returncode})")
        listing = self._listing()
        handle, _ = table_info(listing.stdout, self.table) if listing.returncode == 0 else (None, 0)
        if handle is None:
            _nft("delete", "table", FAMILY, self.table)
            raise LabError(
                "guard", f"table {FAMILY} {self.table} not found after it was created: {listing.stderr.strip()}"
            )
        self.handle = handle
        return self

    @property
    def active(self) -> bool:
        """The table is there (by name, with the handle it was created with)."""
        if self.handle is None:
            return False
        cp = self._listing()
        return cp.returncode == 0 and table_info(cp.stdout, self.table)[0] == self.handle

    def rejected_packets(self) -> int:
        """Packets this guard's rules have rejected or dropped so far."""
        cp = self._listing()
        if cp.returncode != 0:
            raise LabError("guard", f"nft list table {FAMILY} {self.table}: {cp.stderr.strip()}")
        return table_info(cp.stdout, self.table)[1]

    def stop(self) -> None:
        """Delete the table by its handle (only the one this guard made). Idempotent."""
        if self.handle is None:
            return
        cp = self._listing()
        if cp.returncode == 0 and table_info(cp.stdout, self.table)[0] == self.handle:
            d = _nft("delete", "table", FAMILY, "handle", str(self.handle))
            if d.returncode != 0:
                raise LabError(
                    "guard", f"nft delete table {FAMILY} handle {self.handle} ({self.table}): {d.stderr.strip()}"
                )
        self.handle = None
