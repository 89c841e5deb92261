"""Port forwarding through SSH (as `ssh -L`): a loopback port here whose connections come out
of the SSH server at (host, port) as it sees them. One tunnel per lab host, shared by the
targets of a run that use it, closed when the last one is done.

The far end is the lab host's adb server: root on every device there. So the tunnel serves
only devbench's own uid: each accepted connection's client socket is looked up in
/proc/net/tcp (its owner's uid) and anything else, or a connection whose owner cannot be
found, is closed before a byte is forwarded or an SSH channel is opened (fail closed).
``peer_uid`` is pure.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import paramiko

from devbench.config import LabHost
from devbench.errors import TargetError
from devbench.targets.ssh import SshTarget

_ESTABLISHED = "01"


def _hex_addr(ip: str, port: int) -> str:
    """127.0.0.1:5037 as /proc/net/tcp writes it: the address as a host-order 32-bit word
    (``0100007F`` on a little-endian machine), the port in hex: ``0100007F:13AD``."""
    raw = socket.inet_aton(ip)
    return (raw[::-1] if sys.byteorder == "little" else raw).hex().upper() + f":{port:04X}"


def peer_uid(table: str, peer: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the client end of a loopback connection: the /proc/net/tcp line whose local
    address is ``peer`` and remote address ``server``; None when there is none (fail closed)."""
    local, remote = _hex_addr(*peer), _hex_addr(*server)
    for line in table.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[1].upper() == local and f[2].upper() == remote and f[3] == _ESTABLISHED:
            try:
                return int(f[7])
            except ValueError:
                return None
    return None


def _proc_net_tcp() -> str:
    try:
        with open("/proc/net/tcp", encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class SshTunnel:
    def __init__(self, host: LabHost, remote_port: int, *, uid: int | None = None,
                 read_table: Callable[[], str] = _proc_net_tcp):
        self.host = host
        self.uid = os.geteuid() if uid is None else uid  # who may use the tunnel
        self._read_table = read_table
        self.refused = 0  # connections closed because their owner was not self.uid
        self.ssh = SshTarget(f"lab host {host.name}", host.ssh)  # strict host keys, as every SSH target
        self.remote = ("127.0.0.1", remote_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"tunnel-{host.name}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        transport = self.ssh.client.get_transport()
        while not self.closed.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            if peer_uid(self._read_table(), peer, ("127.0.0.1", self.port)) != self.uid:
                self.refused += 1
                conn.close()
                continue
            try:
                chan = transport.open_channel("direct-tcpip", self.remote, peer)  # type: ignore[union-attr]
            except (paramiko.SSHException, OSError, AttributeError):
                conn.close()
                continue
            threading.Thread(target=_pump, args=(conn, chan, self.closed), daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        try:
            self.sock.close()
        finally:
            self.ssh.close()


def _pump(conn: socket.socket, chan: Any, closed: threading.Event) -> None:
    try:
        while not closed.is_set():
            ready, _, _ = select.select([conn, chan], [], [], 0.5)
            if conn in ready:
                data = conn.recv(65536)
                if not data:
                    break
                chan.sendall(data)
            if chan in ready:
                data = chan.recv(65536)
                if not data:
                    break
                conn.sendall(data)
    except (OSError, paramiko.SSHException):
        pass
    finally:
        chan.close()
        conn.close()


class _Tunnels:
    """The run's tunnels, one per lab host, counted by the targets using them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[SshTunnel, int]] = {}

    def acquire(self, host: LabHost, target: str) -> SshTunnel:
        with self._lock:
            if host.name in self._open:
                tunnel, users = self._open[host.name]
                self._open[host.name] = (tunnel, users + 1)
                return tunnel
            try:
                tunnel = SshTunnel(host, host.adb_port)
            except TargetError as exc:
                raise TargetError(target, "connect", f"lab host {host.name}: {exc.message}") from None
            self._open[host.name] = (tunnel, 1)
            return tunnel

    def release(self, host: LabHost) -> None:
        with self._lock:
            tunnel, users = self._open[host.name]
            if users > 1:
                self._open[host.name] = (tunnel, users - 1)
                return
            del self._open[host.name]
        tunnel.close()


TUNNELS = _Tunnels()
