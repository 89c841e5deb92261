"""SSH devices through paramiko: key auth, host keys checked strictly (RejectPolicy)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import paramiko

from devbench.config import SshOptions
from devbench.errors import TargetError
from devbench.targets.base import NO_INFO, CommandResult, LineCallback, LineSplitter, TargetDefaults, shell_line

# A link that goes silent (a cable, a switch, a namespace's link down) sends no FIN or RST: TCP
# would retransmit for ~15 minutes before the connection failed, and a run would wait that long.
# The keepalives put data on the wire every KEEPALIVE_S when nothing else does; unacknowledged
# data for USER_TIMEOUT_S ends the connection (Linux TCP_USER_TIMEOUT), which is then lost like
# any other and reconnected (device.reconnect_timeout_s).
KEEPALIVE_S = 10
USER_TIMEOUT_S = 30

# paramiko logs what its transport thread meets (a banner that never came while a device was
# going away, a reset) at ERROR with a traceback; with no handler of its own that went through
# logging's last resort to stderr, beside devbench's own one-line report of the same failure.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def dead_link_detection(sock: object) -> None:
    """TCP_USER_TIMEOUT on the connection's own socket (not on a tunnel's channel; not where the
    platform lacks it)."""
    if isinstance(sock, socket.socket) and hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_S * 1000)


class SshTarget(TargetDefaults):
    transport = "ssh"
    info = NO_INFO

    def __init__(self, name: str, options: SshOptions, *, sock: socket.socket | paramiko.Channel | None = None):
        self.name = name
        self.options = options
        self.workdir = options.workdir
        self._active: paramiko.Channel | None = None  # the command in flight
        self._interrupted: paramiko.Channel | None = None  # closed by interrupt(), not by the device
        known_hosts = os.path.expanduser(options.known_hosts)
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(known_hosts)
        except FileNotFoundError:
            raise TargetError(
                name, "connect", f"known_hosts file {known_hosts} does not exist; host keys are always checked"
            ) from None
        except (OSError, paramiko.SSHException) as exc:
            raise TargetError(name, "connect", f"cannot read known_hosts {known_hosts}: {exc}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        key = os.path.expanduser(options.key) if options.key else None
        if key and not os.path.exists(key):
            raise TargetError(name, "connect", f"SSH key {key} does not exist")
        try:
            client.connect(
                options.host, port=options.port, username=options.user, key_filename=key,
                timeout=options.connect_timeout, banner_timeout=options.connect_timeout,
                auth_timeout=options.connect_timeout, allow_agent=key is None,
                look_for_keys=key is None, sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            raise TargetError(
                name,
                "connect",
                f"host key of {options.host}:{options.port} does not match {known_hosts} "
                f"(got {exc.key.get_name()}): refusing",
            ) from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise TargetError(
                    name,
                    "connect",
                    f"{options.host}:{options.port} is not in {known_hosts}: refusing an unknown host key",
                ) from None
            raise TargetError(name, "connect", f"{options.user}@{options.host}:{options.port}: {exc}") from None
        except OSError as exc:
            raise TargetError(name, "connect", f"{options.host}:{options.port}: {exc.strerror or exc}") from None
        self.client = client
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_S)
        dead_link_detection(transport.sock)

    def interrupt(self) -> None:
        """Abort the command in flight (from another thread): its channel is closed."""
        chan = self._active
        if chan is not None:
            self._interrupted = chan
            chan.close()

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None
    ) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        try:
            chan = self.client.get_transport().open_session()  # type: ignore[union-attr]
            self._active, self._interrupted = chan, None
            # through sh, so that a command killed by a signal comes back as 128+N, as over adb
            # (sshd reports a signal death as exit-signal, which paramiko turns into -1)
            chan.exec_command(shell_line(("sh", "-c", '"$@"; exit $?', "sh", *argv)))
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            # EOFError: paramiko's packet reader when the transport dies while a channel opens
            raise TargetError(
                self.name, f"run {argv[0]}", f"SSH connection lost: {str(exc) or type(exc).__name__}"
            ) from None
        out, err = bytearray(), bytearray()
        splitter = LineSplitter(on_line)
        deadline = time.monotonic() + timeout if timeout else None
        try:
            chan.settimeout(1.0)
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    raise TargetError(self.name, f"run {argv[0]}", f"timed out after {timeout:.0f} s")
                got = False
                while chan.recv_ready():
                    data = chan.recv(65536)
                    out += data
                    splitter.feed(data.decode("utf-8", "replace"))
                    got = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    got = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed and not got:
                    break
                if not got:
                    if not self.client.get_transport().is_active():  # type: ignore[union-attr]
                        raise TargetError(self.name, f"run {argv[0]}", "SSH connection lost")
                    time.sleep(0.01)
            code = chan.recv_exit_status() if chan.exit_status_ready() else -1
            if code < 0 and chan is not self._interrupted:
                # no exit status (paramiko keeps -1 for a closed channel and for sshd's
                # exit-signal), and not closed by interrupt(): the session died with its shell
                # (the device going down, sshd killed, the link dead), not the command alone
                raise TargetError(
                    self.name, f"run {argv[0]}", "SSH connection lost: the session ended without an exit status"
                )
        finally:
            self._active = None
            chan.close()
        splitter.close()
        return CommandResult(
            argv, code if code >= 0 else 255, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None:
        """A new file created exclusively (never a link planted in its place), its mode set,
        then renamed over `remote` (a rename replaces a link there, never follows it)."""
        tmp = f"{remote}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        try:
            with self.client.open_sftp() as sftp:
                try:
                    with sftp.open(tmp, "wbx") as dst, open(local, "rb") as src:
                        dst.set_pipelined(True)
                        while chunk := src.read(32768):
                            dst.write(chunk)
                        dst.chmod(mode)
                    sftp.posix_rename(tmp, remote)
                except BaseException:
                    try:
                        sftp.remove(tmp)
                    except (OSError, EOFError, paramiko.SSHException):
                        pass
                    raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise TargetError(self.name, "push", f"{local} -> {remote}: {exc}") from None

    def pull(self, remote: str, local: Path) -> None:
        try:
            with self.client.open_sftp() as sftp:
                sftp.get(remote, str(local))
        except FileNotFoundError:
            raise TargetError(self.name, "pull", f"{remote}: no such file on the device") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise TargetError(self.name, "pull", f"{remote}: {exc}") from None

    def close(self) -> None:
        self.client.close()
