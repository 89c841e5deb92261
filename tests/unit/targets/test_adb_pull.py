"""adb pull against a hostile device (issue 24, item 1).

adbutils' Sync.pull switched to a directory pull when the device's STAT said "directory" and
joined the device's LIST names to the local path: `../../elsewhere/victim` was written outside
the run folder (as root, when devbench runs as root). AdbTarget.pull now fetches one regular
file to one exact path (devbench/targets/adbsync.py).

First the protocol logic on bytes; then the real AdbTarget against a stand-in for a
compromised device (tests/standins/hostile_adbd.py: a fake adb server on loopback speaking the
real sync protocol), with canaries outside the destination folder. The real adbd's side is
tests/lab/test_hostile_pull.py.
"""

from __future__ import annotations

import io
import stat
import struct
from pathlib import Path

import pytest

from devbench.config import AdbOptions
from devbench.errors import TargetError
from devbench.targets import adbsync
from devbench.targets.adb import AdbTarget
from devbench.targets.adbsync import PullRefused, parse_stat, receive, request, stat_refusal
from tests.standins import hostile_adbd
from tests.standins.hostile_adbd import HostileAdbServer

CAP = 1000


def data(payload: bytes) -> bytes:
    return b"DATA" + struct.pack("<I", len(payload)) + payload


DONE = b"DONE" + bytes(4)


def fail(text: bytes) -> bytes:
    return b"FAIL" + struct.pack("<I", len(text)) + text


def run_receive(stream: bytes, *, announced: int, cap: int = CAP) -> tuple[int, bytes, list[int]]:
    src, out, asked = io.BytesIO(stream), bytearray(), []

    def read(n: int) -> bytes:
        asked.append(n)
        return src.read(n)

    total = receive(read, out.extend, announced=announced, cap=cap)
    return total, bytes(out), asked


# -- the protocol, on bytes -------------------------------------------------------------------

def test_pull_request_layout():
    assert request(b"STAT", "/data/x") == b"STAT" + struct.pack("<I", 7) + b"/data/x"
    assert request(b"RECV", "/d/é") == b"RECV" + struct.pack("<I", 5) + "/d/é".encode()


@pytest.mark.parametrize("path", ["", "/a\nb", "/a\0b", "/" + "x" * 1024])
def test_pull_request_refuses_paths_adbd_would_not_take(path):
    with pytest.raises(PullRefused):
        request(b"STAT", path)


def test_pull_parse_stat():
    assert parse_stat(b"STAT" + struct.pack("<III", 0o100644, 12, 99)) == (0o100644, 12, 99)
    with pytest.raises(PullRefused, match="unexpected STAT reply"):
        parse_stat(b"FAIL" + bytes(12))
    with pytest.raises(PullRefused):
        parse_stat(b"STAT" + bytes(4))  # the connection ended


def test_pull_stat_regular_file_within_cap_is_pulled():
    assert stat_refusal(stat.S_IFREG | 0o644, CAP, 1, CAP) is None
    assert stat_refusal(stat.S_IFREG | 0o600, 0, 1, CAP) is None  # an empty file is a file


@pytest.mark.parametrize("kind, word", [
    (stat.S_IFDIR, "a directory"), (stat.S_IFLNK, "a symbolic link"), (stat.S_IFIFO, "a FIFO"),
    (stat.S_IFCHR, "a character device"), (stat.S_IFBLK, "a block device"), (stat.S_IFSOCK, "a socket"),
    (0o170000, "of unknown type"), (0, "of unknown type"),
])
def test_pull_stat_refuses_everything_but_a_regular_file(kind, word):
    reason = stat_refusal(kind | 0o755, 10, 1, CAP)
    assert reason is not None and word in reason and reason.endswith("not a regular file: refused")


def test_pull_stat_missing_file_and_over_cap():
    assert stat_refusal(0, 0, 0, CAP) == "no such file on the device"
    assert (
        stat_refusal(stat.S_IFREG | 0o644, CAP + 1, 1, CAP)
        == f"is {CAP + 1} bytes, over the pull cap of {CAP} bytes: refused"
    )


def test_pull_receive_chunks_until_done():
    total, out, _ = run_receive(data(b"abc") + data(b"") + data(b"defg") + DONE, announced=7)
    assert (total, out) == (7, b"abcdefg")
    assert run_receive(DONE, announced=0)[:2] == (0, b"")


def test_pull_receive_accepts_a_file_that_shrank():
    assert run_receive(data(b"ab") + DONE, announced=5)[:2] == (2, b"ab")


def test_pull_receive_refuses_more_than_announced():
    with pytest.raises(PullRefused, match="more than the 5 bytes its STAT announced"):
        run_receive(data(b"abc") + data(b"def") + DONE, announced=5)


def test_pull_receive_refuses_more_than_the_cap():
    with pytest.raises(PullRefused, match=f"more than the pull cap of {CAP} bytes"):
        run_receive(data(b"x" * 600) * 2 + DONE, announced=10**9)


def test_pull_receive_writes_nothing_of_the_chunk_that_crosses_a_limit():
    out = bytearray()
    src = io.BytesIO(data(b"abc") + data(b"defghi") + DONE)
    with pytest.raises(PullRefused):
        receive(src.read, out.extend, announced=5, cap=CAP)
    assert out == b"abc"


def test_pull_receive_never_reads_a_huge_length_field():
    """A DATA or FAIL length of 4 GiB is refused before anything that size is asked of the
    socket (socket.recv(n) allocates n bytes)."""
    for stream in (b"DATA" + struct.pack("<I", 0xFFFFFFFF), b"FAIL" + struct.pack("<I", 0xFFFFFFFF)):
        asked: list[int] = []
        src = io.BytesIO(stream)
        with pytest.raises(PullRefused):
            receive(lambda n, asked=asked, src=src: (asked.append(n), src.read(n))[1], lambda b: None,
                    announced=10**9, cap=2**40)
        assert max(asked) <= adbsync.SYNC_DATA_MAX
    with pytest.raises(PullRefused, match="65537-byte chunk"):
        run_receive(b"DATA" + struct.pack("<I", 65537) + bytes(65537) + DONE, announced=10**6, cap=10**6)


def test_pull_receive_fail_is_one_line():
    with pytest.raises(PullRefused) as err:
        run_receive(fail(b"open failed: No such file\nphone: pull: fine\x1b[2J"), announced=10)
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text
    assert text.startswith("the device failed the transfer: open failed: No such file\\nphone: pull: fine")


@pytest.mark.parametrize("stream, what", [
    (data(b"abc"), "after 3 bytes, before DONE"),
    (b"DATA" + struct.pack("<I", 9) + b"abc", "inside a chunk"),
    (b"DENT" + bytes(4), "unexpected reply 'DENT'"),
    (b"", "after 0 bytes, before DONE"),
])
def test_pull_receive_refuses_a_broken_stream(stream, what):
    with pytest.raises(PullRefused, match=what):
        run_receive(stream, announced=100)


# -- the real AdbTarget against a stand-in for a compromised device -------------------------------

REMOTE = "/data/local/tmp/devbench/0-s-named.perf.data"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """run/profile/ is the pull's folder; run/elsewhere/victim (a sibling folder's file) and
    run/made-by-device are where the stand-in's LIST names point; tmp_path/outside a file
    a link at the destination points to."""
    run = tmp_path / "run"
    (run / "profile").mkdir(parents=True)
    (run / "elsewhere").mkdir()
    (run / "elsewhere" / "victim").write_bytes(b"original\n")
    (tmp_path / "outside").write_bytes(b"outside\n")
    return {"dest": run / "profile" / "0-s-named.perf.data", "folder": run / "profile",
            "victim": run / "elsewhere" / "victim", "made": run / "made-by-device",
            "outside": tmp_path / "outside", "tmp": tmp_path}


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below root: file contents, None for folders (links shown by their target)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = b"-> " + str(p.readlink()).encode()
        else:
            out[rel] = None if p.is_dir() else p.read_bytes()
    return out


def target_on(srv: HostileAdbServer) -> AdbTarget:
    return AdbTarget("hostile-phone", AdbOptions(serial=hostile_adbd.SERIAL, server_host="127.0.0.1",
                                                 server_port=srv.port), connect_timeout=5)


def test_pull_from_the_stand_in_control_a_regular_file_is_pulled(layout):
    """Control: the stand-in is a working adb server; a regular file arrives byte-exact."""
    before = snapshot(layout["tmp"])
    with HostileAdbServer("regular") as srv:
        t = target_on(srv)
        t.pull(REMOTE, layout["dest"])
        t.close()
    assert layout["dest"].read_bytes() == hostile_adbd.PAYLOAD
    assert snapshot(layout["tmp"]) == {**before, "run/profile/0-s-named.perf.data": hostile_adbd.PAYLOAD}
    assert "RECV" in [k for k, _ in srv.requests] and all(p in (REMOTE, "") for _, p in srv.requests)


def test_pull_from_the_stand_in_replaces_a_link_at_the_destination(layout):
    layout["dest"].symlink_to(layout["outside"])
    with HostileAdbServer("regular") as srv:
        target_on(srv).pull(REMOTE, layout["dest"])
    assert not layout["dest"].is_symlink() and layout["dest"].read_bytes() == hostile_adbd.PAYLOAD
    assert layout["outside"].read_bytes() == b"outside\n"


@pytest.mark.parametrize("scenario, reason", [
    ("escape", "is a directory on the device, not a regular file: refused"),
    ("symlink", "is a symbolic link on the device, not a regular file: refused"),
    ("overlong", "the device sent more than the 10 bytes its STAT announced: refused"),
    ("fail", "the device failed the transfer: open failed: Permission denied\\nphone: pull: everything is fine"),
])
def test_pull_from_a_hostile_device_writes_nothing_anywhere(layout, scenario, reason):
    """The device says "directory" and lists names that climb out of the folder, says "link",
    sends more than it announced, or fails with a two-line message: one line naming the device
    and the step, and nothing created or changed anywhere (no partial file, no temp file)."""
    before = snapshot(layout["tmp"])
    error: TargetError | None = None
    with HostileAdbServer(scenario) as srv:
        t = target_on(srv)
        try:
            t.pull(REMOTE, layout["dest"])
        except TargetError as exc:
            error = exc
        t.close()
    assert layout["victim"].read_bytes() == b"original\n" and not layout["made"].exists()
    assert snapshot(layout["tmp"]) == before
    assert error is not None, "the pull was not refused"
    assert str(error) == f"hostile-phone: pull: {REMOTE}: {reason}"
    assert "\n" not in str(error)
    assert all(p in (REMOTE, "") for _, p in srv.requests)  # never a path the device named
    assert "LIST" not in [k for k, _ in srv.requests]
    if scenario in ("escape", "symlink"):
        assert "RECV" not in [k for k, _ in srv.requests]


def test_pull_from_the_stand_in_over_the_cap_is_refused_before_any_byte(layout):
    with HostileAdbServer("regular") as srv:
        with pytest.raises(TargetError, match=r"is 28 bytes, over the pull cap of 10 bytes: refused"):
            target_on(srv).pull(REMOTE, layout["dest"], max_bytes=10)
    assert not layout["dest"].exists() and list(layout["folder"].iterdir()) == []
    assert "RECV" not in [k for k, _ in srv.requests]
