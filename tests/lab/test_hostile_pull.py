"""adb pull on the real lab adbd (issue 24, item 1): one regular file, byte-exact, to exactly
the path asked; anything else the remote path turns out to be is refused in one line that names
the device and the step, and nothing is written, there or anywhere near.

The hostile side of the protocol (a STAT of "directory" with LIST names that climb out of the
folder, a stream longer than announced) needs a device that lies: that is the stand-in in
tests/unit/targets/test_adb_pull.py. Here the real adbd answers for real files: a directory, a link to
a directory, a FIFO (whose RECV would block forever), /dev/zero (a character device whose RECV
never ends), and a file over the cap.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from devbench.errors import TargetError

pytestmark = pytest.mark.lab

SCRATCH = "/tmp/dvb-hostile-pull"
SIZE = 3 * 65536 + 123  # several 64 KiB chunks and a short one


@pytest.fixture
def device_files(adb_target):
    """On the device: a regular file, a directory, a link to it, a FIFO, a 2 MiB file."""
    script = (
        'set -e; rm -rf "$1"; mkdir -p "$1/dir"; echo inside > "$1/dir/file"; '
        'head -c "$2" /dev/urandom > "$1/regular"; ln -s "$1/dir" "$1/link-to-dir"; '
        'ln -s "$1/regular" "$1/link-to-file"; mkfifo "$1/fifo"; head -c 2097152 /dev/zero > "$1/big"; '
        'sha256sum "$1/regular"'
    )
    res = adb_target.run(["sh", "-c", script, "sh", SCRATCH, str(SIZE)], timeout=60)
    assert res.ok, res.stderr
    yield res.stdout.split()[0]
    adb_target.run(["rm", "-rf", SCRATCH], timeout=30)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """run/profile/ is the pull's folder; canaries beside it (run/elsewhere/victim) and above."""
    run = tmp_path / "run"
    (run / "profile").mkdir(parents=True)
    (run / "elsewhere").mkdir()
    (run / "elsewhere" / "victim").write_bytes(b"original\n")
    (tmp_path / "above").write_bytes(b"above\n")
    return {"folder": run / "profile", "tmp": tmp_path}


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    out: dict[str, tuple[bytes | None, int]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (None if p.is_dir() else p.read_bytes(), st.st_mtime_ns)
    return out


def test_pull_of_a_regular_file_is_byte_exact(adb_target, device_files, layout):
    dest = layout["folder"] / "0-s-named.perf.data"
    adb_target.pull(f"{SCRATCH}/regular", dest)
    data = dest.read_bytes()
    assert len(data) == SIZE and hashlib.sha256(data).hexdigest() == device_files
    assert sorted(os.listdir(layout["folder"])) == ["0-s-named.perf.data"]  # no temporary file left
    assert dest.stat().st_mode & 0o777 == 0o666 & ~_umask()  # as open(..., "wb") made it


@pytest.mark.parametrize("remote, reason", [
    (f"{SCRATCH}/dir", "is a directory on the device, not a regular file: refused"),
    (f"{SCRATCH}/link-to-dir", "is a symbolic link on the device, not a regular file: refused"),
    (f"{SCRATCH}/link-to-file", "is a symbolic link on the device, not a regular file: refused"),
    (f"{SCRATCH}/fifo", "is a FIFO on the device, not a regular file: refused"),
    ("/dev/zero", "is a character device on the device, not a regular file: refused"),
    (f"{SCRATCH}/missing", "no such file on the device"),
])
def test_pull_of_anything_but_a_regular_file_is_refused(adb_target, device_files, layout, remote, reason):
    before = snapshot(layout["tmp"])
    with pytest.raises(TargetError) as err:
        adb_target.pull(remote, layout["folder"] / "out")
    assert str(err.value) == f"check: pull: {remote}: {reason}"
    assert snapshot(layout["tmp"]) == before  # nothing created or changed, in the folder or beside it


def test_pull_over_the_cap_is_refused_without_a_partial_file(adb_target, device_files, layout):
    before = snapshot(layout["tmp"])
    with pytest.raises(TargetError) as err:
        adb_target.pull(f"{SCRATCH}/big", layout["folder"] / "big", max_bytes=1024 * 1024)
    assert (
        str(err.value) == f"check: pull: {SCRATCH}/big: is 2097152 bytes, over the pull cap of 1048576 bytes: refused"
    )
    assert snapshot(layout["tmp"]) == before
    adb_target.pull(f"{SCRATCH}/big", layout["folder"] / "big")  # within the default cap it is a file like any
    assert (layout["folder"] / "big").read_bytes() == bytes(2097152)


def test_profile_files_still_arrive_over_adb(tmp_path, devbench_cmd, adb_server, adb_device_serial):
    """The pull's real user: `devbench run` with perf over adb (the lab device runs this
    machine's kernel: the unnamed arm is profiled); its perf data and script arrive whole."""
    from tests.lab import lines
    from tests.lab.test_profile import run, write

    out = tmp_path / "out"
    cfg = write(tmp_path, lines.adb_line("dut", adb_device_serial, adb_server.port), out,
                "{enabled: true, forks: 10, batches: 1}", scenarios="    - {name: 1 page, pages: 1}\n")
    _, run_dir, data = run(devbench_cmd, cfg, out)
    [p] = data["profiles"]
    assert p["fork_path_samples"] > 0 and "copy_process" in {f for s in p["folded"] for f in s.split(";")}
    files = sorted((run_dir / "profiles").rglob("*"))
    assert [f.name for f in files if f.name.endswith((".perf.data", ".perf.txt"))], files
    assert all(f.stat().st_size > 0 for f in files if f.is_file())
    assert not [f for f in files if f.name.endswith(".part")]  # no temporary file left


def _umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask in /proc/self/status")
