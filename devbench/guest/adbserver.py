"""A private adb server: own port on loopback, own HOME, foreground, ended by PID.

devbench runs one for the QEMU guests it boots (devbench.targets.qemu), and the test lab one
per test session: an adb server gives whoever reaches its port a root shell on every device
it has. So its port gets a traffic guard (only this process's uid: devbench.guest.guard) before
the server starts, and the server is checked to be the only listener on its port, on every
loopback address, once it answers. Where no guard can be made (not root, no nft), ``guard=
"auto"`` starts it unguarded and says why in ``.unguarded``; ``guard="required"`` (the lab)
fails instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import adbutils
from adbutils._adb import AdbConnection

from devbench.guest import procs
from devbench.guest.errors import LabError
from devbench.guest.guard import LoopbackPort, TrafficGuard


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def adb_binary() -> str:
    """The adb bundled with adbutils (falls back to adb on PATH)."""
    try:
        path = adbutils.adb_path()
    except Exception:  # noqa: BLE001 - adbutils raises its own error types
        path = shutil.which("adb") or ""
    if not path or not os.path.exists(path):
        raise LabError("adb-server", "no adb binary (adbutils bundle or PATH)")
    return path


class _NoAutostartConnection(AdbConnection):
    """adbutils runs ``adb start-server`` (a DEFAULT server on port 5037) when it cannot reach
    the server it was given. A private server must never cause that: fail instead."""

    def _safe_connect(self):
        return self._create_socket()


class PrivateAdbClient(adbutils.AdbClient):
    """AdbClient that never starts an adb server of its own."""

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        conn = _NoAutostartConnection(self.host, self.port)
        timeout = timeout or getattr(self, "_BaseClient__socket_timeout", None)
        if timeout:
            conn.conn.settimeout(timeout)
        return conn


class AdbServer:
    """``adb -L tcp:127.0.0.1:PORT server nodaemon`` with a private HOME.

    The environment disables emulator scanning (ADB_EMU=0) and mDNS (ADB_MDNS=0), and
    ``--one-device`` names a serial no USB device has, so the server claims no USB device
    and no developer's emulator. ``.port`` (loopback), ``.pid``, ``.home``, ``.log``.
    ``.guard``: only this process's uid (root) reaches the port (devbench.guest.guard); it is
    in place before the server starts.
    """

    def __init__(self, port: int | None = None, adb: str | None = None, start_timeout: float = 10.0,
                 guard: str = "required") -> None:
        if guard not in ("required", "auto"):
            raise ValueError(f"guard must be required or auto, not {guard!r}")
        self.guard_mode = guard
        self.unguarded: str | None = None  # why the port has no guard (guard="auto" only)
        self._fixed_port = port
        self.port = port or 0
        self.host = "127.0.0.1"
        self.adb = adb
        self.start_timeout = start_timeout
        self.home: Path | None = None
        self.log: Path | None = None
        self.pid: int | None = None
        self.guard: TrafficGuard | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AdbServer:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """Environment for adb client commands that must talk to this server."""
        assert self.home is not None
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
                "ANDROID_USER_HOME": str(self.home / ".android"), "ANDROID_ADB_SERVER_PORT": str(self.port),
                "ADB_MDNS": "0", "ADB_MDNS_AUTO_CONNECT": "", "ADB_EMU": "0", "TMPDIR": str(self.home),
                # the native USB backend: libusb's init fails in containers and then the
                # server answers only after a 3 s device-scan timeout (0.1 s with this)
                "ADB_LIBUSB": "0"}

    def start(self) -> AdbServer:
        if self._proc is not None:
            raise LabError("adb-server", "already started")
        self.adb = self.adb or adb_binary()
        self.home = Path(tempfile.mkdtemp(prefix="devbench-adb-"))
        (self.home / ".android").mkdir()
        self.log = self.home / "adb-server.log"
        last = ""
        for _ in range(5):
            port = self._fixed_port or free_port()
            # "-L tcp:127.0.0.1:PORT" is refused by adb 36 ("listening on specified hostname
            # currently unsupported"); -P binds localhost.
            cmd = [self.adb, "-P", str(port), "--one-device", "devbench-lab-no-usb", "server", "nodaemon"]
            self.port = port
            try:
                self._start_guard(port)
            except BaseException:
                self.stop()
                raise
            with open(self.log, "ab") as log:
                self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                              env=self.env, cwd=self.home, start_new_session=True)
            self.pid = self._proc.pid
            try:
                self._wait_up()
                self._check_sole_listener()
                return self
            except LabError as e:
                last = e.detail
                self._kill()
        self.stop()
        raise LabError("adb-server", last)

    def _start_guard(self, port: int) -> None:
        from devbench.qemu.portguard import unavailable

        why = unavailable() if self.guard_mode == "auto" else None
        if why is not None:
            self.unguarded = why
            return
        self.guard = TrafficGuard([LoopbackPort(port)], tag=f"adb{port}").start()

    def _check_sole_listener(self) -> None:
        """The server is the only listener on its port, on every loopback address (another user
        listening on [::1]:PORT first would answer some of the clients meant for it)."""
        from devbench.qemu.portguard import listener_uids, proc_net

        uids = listener_uids(proc_net(), self.port)
        if uids != {os.geteuid()}:
            raise LabError("adb-server", f"port {self.port} on loopback is also listened on by uid(s) "
                                         f"{sorted(uids - {os.geteuid()}) or 'none'}: not used")

    def _wait_up(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise LabError("adb-server", f"adb server exited with {self._proc.returncode}: {self._log_tail()}")
            try:  # plain socket first: an adbutils call on a dead port would start a default server
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
                self.client().server_version()
                return
            except Exception as e:  # noqa: BLE001
                if time.monotonic() > deadline:
                    raise LabError("adb-server", f"no answer on port {self.port}: {e}; {self._log_tail()}") from e
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:]) if self.log else ""
        except OSError:
            return ""

    def client(self) -> adbutils.AdbClient:
        """An adbutils client of this server (one that never auto-starts another server)."""
        return PrivateAdbClient(host=self.host, port=self.port)

    def connect(self, serial: str, timeout: float = 15.0) -> adbutils.AdbDevice:
        """``adb connect serial`` and wait until it is listed in state "device"."""
        client = self.client()
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                last = client.connect(serial, timeout=5)
                for info in client.list():
                    if info.serial == serial and info.state == "device":
                        return client.device(serial)
                    if info.serial == serial:
                        last = f"state {info.state}"
            except Exception as e:  # noqa: BLE001
                last = str(e)
            if time.monotonic() > deadline:
                raise LabError("adb-connect", f"{serial} not in state 'device' after {timeout} s: {last}")
            time.sleep(0.1)

    def _kill(self) -> None:
        if self._proc is None:
            return
        left = procs.kill_tree(self._proc.pid)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            left.append(self._proc.pid)
        self._proc = None
        if left:
            raise LabError("adb-server", f"still alive after SIGKILL: {left} (nftables table "
                                         f"{self.guard.table if self.guard else '-'} kept)")
        if self.guard is not None:
            self.guard.stop()
            self.guard = None

    def stop(self) -> None:
        """SIGKILL the server (and anything it started) by PID; remove its HOME. Idempotent."""
        self._kill()
        if self.guard is not None:  # the server was never started
            self.guard.stop()
            self.guard = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
