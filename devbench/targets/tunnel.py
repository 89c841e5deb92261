"""Port forwarding through SSH (as `ssh -L`): a loopback port here whose connections come out
of the SSH server at (host, port) as it sees them. One tunnel per lab host, shared by the
targets of a run that use it, closed when the last one is done."""

from __future__ import annotations

import select
import socket
import threading
from typing import Any

import paramiko

from devbench.config import LabHost
from devbench.errors import TargetError
from devbench.targets.ssh import SshTarget


class SshTunnel:
    def __init__(self, host: LabHost, remote_port: int):
        self.host = host
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
