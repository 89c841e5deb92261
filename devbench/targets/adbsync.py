"""One file from an adb device, over the sync protocol, without trusting the device.

adbutils' `Sync.pull` believes the device: a STAT reply of "directory" turns the pull into a
directory pull whose LIST names (`../../../etc/cron.d/x`) are joined to the local path, a
"symbolic link" counts as a file, and the bytes keep coming as long as the device sends them.
A compromised device (or adbd) could so write any file this machine's devbench (root) can.

Here a pull is exactly one request pair on one sync connection: STAT of the remote path
(adbd answers it with lstat), which must say a regular file of at most `cap` bytes, then RECV
of that same path, whose stream may not exceed the announced size or `cap`, nor send a chunk
larger than the protocol's 64 KiB. The bytes go to a new temporary file (`mkstemp`: O_EXCL,
O_NOFOLLOW) in the destination's own folder, renamed onto the exact local path at the end;
on any error it is removed and nothing is left. No name from the device ever becomes a path.

The parsing (`stat_refusal`, `receive`) works on bytes and callables, so it is tested without
a device (tests/unit/targets/test_adb_pull.py).
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

from devbench.textsafe import shown

SYNC_DATA_MAX = 64 * 1024  # adbd's SYNC_DATA_MAX: no DATA chunk is larger
MAX_PATH = 1024  # adbd refuses longer sync paths
FAIL_TEXT_MAX = 1024  # a FAIL message longer than this is not read
DEFAULT_PULL_CAP = 512 * 1024 * 1024  # perf data of a long recording stays well below

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class PullRefused(Exception):
    """The device's answer is not one regular file within the cap (the reason, one line)."""


def request(kind: bytes, path: str) -> bytes:
    """A sync request: its 4-byte id, the path's length (little-endian u32), the path."""
    raw = path.encode("utf-8")
    if not path or len(raw) > MAX_PATH or "\n" in path or "\0" in path:
        raise PullRefused(f"not a path devbench pulls ({len(raw)} bytes)")
    return kind + struct.pack("<I", len(raw)) + raw


def parse_stat(reply: bytes) -> tuple[int, int, int]:
    """(mode, size, mtime) of a 16-byte STAT (v1) reply."""
    if len(reply) != 16 or reply[:4] != b"STAT":
        raise PullRefused(f"unexpected STAT reply {printable(reply[:4])!r}")
    mode, size, mtime = struct.unpack("<III", reply[4:])
    return mode, size, mtime


def stat_refusal(mode: int, size: int, mtime: int, cap: int) -> str | None:
    """Why a STAT answer is not something to pull (None: a regular file within the cap)."""
    if mode == 0 and size == 0 and mtime == 0:  # adb's STAT v1 answers a missing file with zeros
        return "no such file on the device"
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), f"of unknown type (mode {mode:o})")
        return f"is {kind} on the device, not a regular file: refused"
    if size > cap:
        return f"is {size} bytes, over the pull cap of {cap} bytes: refused"
    return None


def receive(read: Callable[[int], bytes], write: Callable[[bytes], object], *, announced: int, cap: int) -> int:
    """Reads a RECV reply (DATA chunks, then DONE; or FAIL) with `read(n)` (n bytes, fewer only at
    the end of the stream), passes each chunk to `write`; returns the byte count. Raises
    PullRefused on FAIL, an unknown reply, a chunk over 64 KiB, more bytes than the STAT
    announced or than `cap`, and a stream that ends early. Nothing larger than 64 KiB is read
    at once, whatever a length field says."""
    limit = min(announced, cap)
    total = 0
    while True:
        head = read(8)
        if len(head) < 8:
            raise PullRefused(f"the device ended the transfer after {total} bytes, before DONE")
        kind, length = head[:4], struct.unpack("<I", head[4:])[0]
        if kind == b"DONE":
            return total
        if kind == b"FAIL":
            if length > FAIL_TEXT_MAX:
                raise PullRefused(f"the device failed the transfer (a {length}-byte message, not read)")
            text = read(length)
            raise PullRefused(f"the device failed the transfer: {printable(text)}")
        if kind != b"DATA":
            raise PullRefused(f"unexpected reply {printable(kind)!r} after {total} bytes")
        if length > SYNC_DATA_MAX:
            raise PullRefused(f"a {length}-byte chunk, over the protocol's {SYNC_DATA_MAX}: refused")
        if total + length > limit:
            what = f"the {announced} bytes its STAT announced" if announced <= cap else f"the pull cap of {cap} bytes"
            raise PullRefused(f"the device sent more than {what}: refused")
        data = read(length)
        if len(data) < length:
            raise PullRefused(f"the device ended the transfer after {total + len(data)} bytes, inside a chunk")
        write(data)
        total += length


def printable(raw: bytes, limit: int = 200) -> str:
    """A device's text as one line: control characters shown as escapes, cut at `limit`."""
    text = raw.decode("utf-8", "replace")
    out = shown(text)
    return out[:limit] + ("..." if len(out) > limit else "")


def socket_reader(sock: socket.socket) -> Callable[[int], bytes]:
    """read(n) on a socket: n bytes, fewer only when the peer closed."""
    def read(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)
    return read


def pull_file(sock: socket.socket, remote: str, local: Path, *, cap: int = DEFAULT_PULL_CAP) -> int:
    """Pulls `remote` into exactly `local` over `sock`, a sync connection already opened (the
    `sync:` service acknowledged). Returns the byte count. Raises PullRefused (the device's
    answer) or OSError (the connection, or this machine's file system)."""
    read = socket_reader(sock)
    sock.sendall(request(b"STAT", remote))
    mode, size, mtime = parse_stat(read(16))
    reason = stat_refusal(mode, size, mtime, cap)
    if reason:
        raise PullRefused(reason)
    local = Path(local)
    fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open(local, "wb") would have made it
        with os.fdopen(fd, "wb") as out:
            sock.sendall(request(b"RECV", remote))
            total = receive(read, out.write, announced=size, cap=cap)
        os.replace(tmp, local)  # replaces a link at `local`, never follows it
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        sock.sendall(b"QUIT" + struct.pack("<I", 0))
    except OSError:
        pass
    return total


def _umask() -> int:
    """This process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
