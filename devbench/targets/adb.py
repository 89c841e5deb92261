"""adb devices through adbutils: a serial, host:port to `adb connect`, or none named
($ANDROID_SERIAL, else the only device attached: targets/adbenv.py).

Commands run over shell protocol v2 (real exit codes, separate stderr) and are streamed
line by line; devices without shell_v2 fall back to v1 with an exit-code marker.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import adbutils

from devbench.config import AdbOptions
from devbench.errors import TargetError
from devbench.targets.adbenv import NoDevice, pick_serial, start_server_port
from devbench.targets.adbsync import DEFAULT_PULL_CAP, PullRefused, pull_file
from devbench.targets.base import CommandResult, LineCallback, LineSplitter, TargetDefaults, shell_line

_EXIT_MARK = "__devbench_exit="
_PULL_READ_TIMEOUT_S = 60.0  # per read of a pull, not for the whole file
_ADB_ERRORS = (adbutils.AdbError, adbutils.AdbTimeout, OSError, EOFError)


class AdbTarget(TargetDefaults):
    transport = "adb"

    def __init__(self, name: str, options: AdbOptions, *, connect_timeout: float = 20.0):
        self.name = name
        self.options = options
        self.workdir = options.workdir
        self.serial = options.serial or options.connect or ""
        try:
            self.server = options.resolved_server()
        except ValueError as exc:  # a bad $ADB_SERVER_SOCKET or $ANDROID_ADB_SERVER_*
            raise TargetError(name, "connect", str(exc)) from None
        self.server_host, self.server_port = self.server.host, self.server.port
        self._check_server()
        self.client = adbutils.AdbClient(host=self.server_host, port=self.server_port, socket_timeout=30)
        chosen = "config"
        try:
            if options.connect:
                self._connect(options.connect, connect_timeout)
            if not self.serial:
                self.serial, chosen = self._pick(connect_timeout)
            self._wait_online(connect_timeout)
            self.device = self.client.device(self.serial)
            self.features = set(self.device.get_features().split(","))
        except _ADB_ERRORS as exc:
            raise TargetError(
                name, "connect", f"adb device {self.serial or '(not chosen)'} on {self.server}: {_msg(exc)}"
            ) from None
        self.info = {"serial": self.serial, "serial_from": chosen, "adb_server": str(self.server),
                     "adb_server_from": self.server.source}

    def _pick(self, timeout: float) -> tuple[str, str]:
        """The device of a target that names none: $ANDROID_SERIAL, else the only one attached
        (waiting up to timeout for one to show up; several at once is an error listing them)."""
        deadline = time.monotonic() + timeout
        while True:
            attached = {d.serial: d.state for d in self.client.list()}
            try:
                return pick_serial(attached, os.environ, f"adb server {self.server}")
            except NoDevice as exc:
                if len([s for s, st in attached.items() if st == "device"]) > 1 or time.monotonic() >= deadline:
                    raise TargetError(self.name, "connect", str(exc)) from None
            time.sleep(0.2)

    def _check_server(self) -> None:
        host, port = self.server_host, self.server_port
        try:
            with socket.create_connection((host, port), timeout=3):
                return
        except OSError as exc:
            if host in ("127.0.0.1", "localhost") and port == start_server_port(os.environ):
                return  # adbutils runs `adb start-server`, which starts it there, as adb does
            raise TargetError(self.name, "connect", f"no adb server at {host}:{port} ({exc.strerror or exc})") from None

    def _connect(self, addr: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            last = self.client.connect(addr, timeout=min(10.0, timeout))
            if "connected" in last and "cannot" not in last and "failed" not in last:
                return
            time.sleep(0.3)
        raise TargetError(self.name, "connect", f"adb connect {addr}: {last.strip() or 'no answer'}")

    def _wait_online(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {d.serial: d.state for d in self.client.list()}
            if states.get(self.serial) == "device":
                return
            time.sleep(0.2)
        if self.serial in states:
            raise TargetError(self.name, "connect", f"adb device {self.serial} is {states[self.serial]!r}, not ready")
        have = ", ".join(sorted(states)) or "none"
        raise TargetError(
            self.name, "connect",
            f"no adb device {self.serial} on server {self.server} (devices: {have})",
        )

    def adb_root(self, timeout: float = 30.0) -> bool:
        """`adb root`: restart adbd as root (userdebug/eng builds). True when adbd says it is
        root (already, or after the restart, once the device is back online)."""
        try:
            answer = self.device.root()
        except _ADB_ERRORS:
            return False
        text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
        if "already running as root" in text:
            return True
        if "restarting adbd as root" not in text:
            return False  # "adbd cannot run as root in production builds"
        time.sleep(1.0)
        try:
            if self.options.connect:
                self._connect(self.options.connect, timeout)
            self._wait_online(timeout)
        except TargetError:
            return False
        self.device = self.client.device(self.serial)
        return True

    # -- the protocol ---------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None
    ) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        cmd = shell_line(argv)
        try:
            if "shell_v2" in self.features:
                return self._run_v2(argv, cmd, timeout, on_line)
            return self._run_v1(argv, cmd, timeout, on_line)
        except _ADB_ERRORS as exc:
            raise TargetError(self.name, f"run {argv[0]}", f"adb connection lost: {_msg(exc)}") from None

    def interrupt(self) -> None:
        """Abort the command in flight (from another thread): its connection is closed, which
        ends the remote process; the target stays usable for the next command (the restore)."""
        conn = getattr(self, "_active", None)
        if conn is not None:
            try:
                conn.close()
            except _ADB_ERRORS:
                pass

    def _run_v2(self, argv, cmd, timeout, on_line) -> CommandResult:
        conn = self.device.open_transport(timeout=timeout)
        self._active = conn
        out, err = bytearray(), bytearray()
        splitter = LineSplitter(on_line)
        deadline = time.monotonic() + timeout if timeout else None
        code = None
        try:
            conn.send_command(f"shell,v2,raw:{cmd}")
            conn.check_okay()
            while code is None:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TargetError(self.name, f"run {argv[0]}", f"timed out after {timeout:.0f} s")
                    conn.conn.settimeout(remaining)
                header = conn.read(5)
                if len(header) < 5:  # EOF: adbd (or the link to it) went away mid-command
                    raise TargetError(
                        self.name, f"run {argv[0]}", "adb connection lost: the device closed the connection"
                    )
                kind, length = header[0], int.from_bytes(header[1:5], "little")
                data = conn.read(length) if length else b""
                if len(data) < length:
                    raise TargetError(self.name, f"run {argv[0]}",
                                      "adb connection lost: the device closed the connection")
                if kind == 1:
                    out += data
                    splitter.feed(data.decode("utf-8", "replace"))
                elif kind == 2:
                    err += data
                elif kind == 3:
                    code = data[0] if data else 255
        except adbutils.AdbTimeout:
            raise TargetError(self.name, f"run {argv[0]}", f"timed out after {timeout:.0f} s") from None
        finally:
            self._active = None
            conn.close()
        splitter.close()
        return CommandResult(argv, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _run_v1(self, argv, cmd, timeout, on_line) -> CommandResult:
        # Old devices: stdout and stderr are merged; the exit code comes from a marker line.
        conn = self.device.open_shell(f"{cmd} 2>&1; echo {_EXIT_MARK}$?")
        self._active = conn
        lines: list[str] = []
        held: list[str] = []  # the latest line: the shell's marker is the last one, known only at EOF

        def take(line: str) -> None:
            if held:
                emit(held.pop())
            held.append(line)

        def emit(line: str) -> None:
            lines.append(line)
            if on_line:
                on_line(line)

        splitter = LineSplitter(take)
        try:
            if timeout:
                conn.conn.settimeout(timeout)
            while True:
                chunk = conn.conn.recv(65536)
                if not chunk:
                    break
                splitter.feed(chunk.decode("utf-8", "replace"))
            splitter.close()
        finally:
            self._active = None
            conn.close()
        code, rest = split_exit_mark(held[0] if held else "")
        if rest:
            emit(rest)
        text = "\n".join(lines)
        return CommandResult(argv, code, text, "")

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None:
        """``local`` to ``remote`` through a fresh, unpredictable name beside it: pushed, its mode
        set, then renamed over ``remote`` (whatever was at ``remote``, a link included, is removed,
        never followed; a folder there is refused). The final name is never written through."""
        parent, sep, base = remote.rpartition("/")
        tmp = f"{parent}{sep}.{base}.{secrets.token_hex(6)}.part"
        try:
            self.device.sync.push(str(local), tmp, mode=mode)
        except _ADB_ERRORS as exc:
            self.run(["rm", "-f", "--", tmp], timeout=30)
            raise TargetError(self.name, "push", f"{local} -> {remote}: {_msg(exc)}") from None
        # adbd does not always apply the mode it is sent (Debian's adbd makes every file 0666 or
        # 0777): a world-writable payload could be swapped before it runs as root. Set it.
        res = self.run(["sh", "-c", 'chmod "$1" "$2" && rm -f -- "$3" && mv -f -- "$2" "$3"', "sh",
                        f"{mode & 0o7777:o}", tmp, remote], timeout=30)
        if not res.ok:
            self.run(["rm", "-f", "--", tmp], timeout=30)
            raise TargetError(self.name, "push", f"{remote}: chmod {mode & 0o7777:o} and rename: "
                                                 f"{res.last_words() or f'exit {res.exit_code}'}")

    def pull(self, remote: str, local: Path, *, max_bytes: int = DEFAULT_PULL_CAP) -> None:
        """One regular file of at most max_bytes to exactly `local` (targets/adbsync.py): a
        directory, link, FIFO or device on the device, or a stream longer than announced, is
        refused and leaves no file; no name the device sends becomes a local path."""
        try:
            conn = self.device.open_transport(timeout=_PULL_READ_TIMEOUT_S)
            try:
                conn.send_command("sync:")
                conn.check_okay()
                pull_file(conn.conn, remote, Path(local), cap=max_bytes)
            finally:
                conn.close()
        except PullRefused as exc:
            raise TargetError(self.name, "pull", f"{remote}: {exc}") from None
        except TimeoutError:
            raise TargetError(
                self.name, "pull", f"{remote}: the device sent nothing for {_PULL_READ_TIMEOUT_S:.0f} s"
            ) from None
        except _ADB_ERRORS as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _msg(exc)
            raise TargetError(self.name, "pull", f"{remote} -> {local}: {reason}") from None

    def close(self) -> None:
        if self.options.connect:
            try:
                self.client.disconnect(self.options.connect)
            except _ADB_ERRORS:
                pass


def split_exit_mark(last: str) -> tuple[int, str]:
    """(exit code, output before the marker) from a v1 command's last line. Only the shell's
    own marker, at the very end (`__devbench_exit=N`, N 0..255), is believed: an output line
    that looks like one is output; no marker at all (the connection dropped) is 255."""
    head, sep, value = last.rpartition(_EXIT_MARK)
    value = value.rstrip("\r")
    if sep and value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 255:
        return int(value), head  # head: the command's last output, when it ended without a newline
    return 255, last


def _msg(exc: BaseException) -> str:
    text = " ".join(str(a) for a in getattr(exc, "args", ()) if a) or type(exc).__name__
    return text.splitlines()[0][:300] if text else type(exc).__name__
