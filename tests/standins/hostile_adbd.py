"""A STAND-IN for a compromised device: a fake adb SERVER on loopback whose one device answers
the sync protocol with hostile replies.

adbutils (and so devbench's AdbTarget) talks to an adb server, never to adbd: the server
relays the device's sync replies byte for byte. This stand-in answers what a client asks an adb
server on its port (`host:version`, `host:devices[-l]`, `host-serial:S:features`,
`host:transport:S`, then `sync:`) and speaks the real sync protocol (STAT, LIST, RECV, QUIT;
the byte layout of adbd's file_sync_service) with the replies of the chosen scenario:

- "regular" (the control): STAT says a regular file of len(PAYLOAD) bytes; RECV sends PAYLOAD.
- "escape": STAT says "directory"; the first LIST gives names that climb out of any local
  folder (`../../elsewhere/victim`, a directory `../../made-by-device`), later ones are empty;
  RECV of any path sends `PAYLOAD`.
- "overlong": STAT says a regular file of 10 bytes; RECV sends OVERLONG_BYTES in 64 KiB
  chunks (a file that "grows" past what was announced, a /dev/zero behind a regular name).
- "symlink": STAT says a symbolic link (lstat of a link to anywhere); RECV sends PAYLOAD.
- "fail": RECV answers FAIL with a message that holds a newline and a fake second error.

It listens on 127.0.0.1, a free port, in a thread of the test process; `stop()` shuts it
down and joins its threads. `requests` records every sync request (id, path) it was sent.
"""

from __future__ import annotations

import socketserver
import stat
import struct
import threading

SERIAL = "hostile-standin"
PAYLOAD = b"written by a hostile device\n"
OVERLONG_BYTES = 4 * 1024 * 1024
FAIL_TEXT = b"open failed: Permission denied\nphone: pull: everything is fine"
ESCAPE_FILE = "../../elsewhere/victim"  # a regular file's name in LIST
ESCAPE_DIR = "../../made-by-device"  # a directory's name in LIST
SCENARIOS = ("regular", "escape", "overlong", "symlink", "fail")


def _block(text: str) -> bytes:
    raw = text.encode()
    return b"%04x" % len(raw) + raw


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(10)

    def read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def command(self) -> str:
        return self.read(int(self.read(4), 16)).decode()

    def handle(self) -> None:
        try:
            self._serve()
        except (EOFError, OSError):
            pass  # the client went away (a pull that refused closes mid-stream)

    def _serve(self) -> None:
        cmd = self.command()
        send = self.request.sendall
        if cmd == "host:version":
            send(b"OKAY" + _block(f"{40:04x}"))  # 40: adbutils then uses host:transport:
        elif cmd in ("host:devices", "host:devices-l"):
            send(b"OKAY" + _block(f"{SERIAL}\tdevice\n"))
        elif cmd == f"host-serial:{SERIAL}:features":
            send(b"OKAY" + _block("shell_v2,cmd"))
        elif cmd == f"host:transport:{SERIAL}":
            send(b"OKAY")
            if self.command() != "sync:":
                send(b"FAIL" + _block("stand-in: only sync: is served"))
                return
            send(b"OKAY")
            self._sync()
        else:
            send(b"FAIL" + _block(f"stand-in: unknown service {cmd}"))

    def _sync(self) -> None:
        send = self.request.sendall
        while True:
            kind, length = self.read(4), struct.unpack("<I", self.read(4))[0]
            path = self.read(length).decode("utf-8", "replace")
            self.server.requests.append((kind.decode(), path))
            scenario = self.server.scenario
            if kind == b"QUIT":
                return
            if kind == b"STAT":
                mode, size = {"regular": (stat.S_IFREG | 0o644, len(PAYLOAD)),
                              "escape": (stat.S_IFDIR | 0o755, 4096),
                              "overlong": (stat.S_IFREG | 0o644, 10),
                              "symlink": (stat.S_IFLNK | 0o777, 12),
                              "fail": (stat.S_IFREG | 0o644, 10)}[scenario]
                send(b"STAT" + struct.pack("<III", mode, size, 1_700_000_000))
            elif kind == b"LIST":
                first = not any(k == "LIST" for k, _ in self.server.requests[:-1])
                # only the first listing has entries: adbutils recurses into the escaping
                # directory, whose listing would otherwise climb one more level each time
                for mode, name in () if not first else ((stat.S_IFDIR | 0o755, "."), (stat.S_IFDIR | 0o755, ".."),
                                   (stat.S_IFREG | 0o644, ESCAPE_FILE), (stat.S_IFDIR | 0o755, ESCAPE_DIR)):
                    raw = name.encode()
                    send(b"DENT" + struct.pack("<IIII", mode, len(PAYLOAD), 1_700_000_000, len(raw)) + raw)
                send(b"DONE" + bytes(16))
            elif kind == b"RECV":
                if scenario == "fail":
                    send(b"FAIL" + struct.pack("<I", len(FAIL_TEXT)) + FAIL_TEXT)
                    continue
                if scenario == "overlong":
                    chunk = b"\0" * 65536
                    for _ in range(OVERLONG_BYTES // len(chunk)):
                        send(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                else:
                    send(b"DATA" + struct.pack("<I", len(PAYLOAD)) + PAYLOAD)
                send(b"DONE" + bytes(4))
            else:
                send(b"FAIL" + struct.pack("<I", 7) + b"unknown")
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the connection threads
    allow_reuse_address = True

    def __init__(self, scenario: str):
        if scenario not in SCENARIOS:
            raise ValueError(scenario)
        self.scenario = scenario
        self.requests: list[tuple[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class HostileAdbServer:
    """with HostileAdbServer("escape") as srv: AdbTarget(..., AdbOptions(serial=SERIAL,
    server_host="127.0.0.1", server_port=srv.port))."""

    def __init__(self, scenario: str):
        self._server = _Server(scenario)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"hostile-adbd-{scenario}")

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self._server.requests

    def start(self) -> HostileAdbServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the hostile adb stand-in did not stop"

    def __enter__(self) -> HostileAdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
