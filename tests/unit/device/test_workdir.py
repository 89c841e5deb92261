"""Private work folders (devbench/device/workdir.py): the pure parser and checks, then the real
scripts through LocalTarget on this machine's sh, stat and mkdir (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devbench.config import LocalOptions
from devbench.device.workdir import Stat, check_file, ensure_private, file_problem, folder_problem, parse_stat
from devbench.errors import TargetError
from devbench.targets.local import LocalTarget, default_workdir

NOBODY = 65534


def test_parse_stat_believes_only_exact_digit_lines():
    assert parse_stat("stat=0 700\nme=0\n") == Stat("ok", 0, 0o700, 0)
    assert parse_stat("created=1\nstat=2000 700\nme=2000\n") == Stat("ok", 2000, 0o700, 2000, True)
    assert parse_stat("stat=symlink\n").state == "symlink"
    assert parse_stat("stat=0 700\nstat=0 777\nme=0").mode == 0o700  # the first line is believed
    assert parse_stat("stat=0 700 extra\nme=0").state == "unreadable"
    assert parse_stat("stat=0 700\nme=0; reboot").state == "unreadable"
    assert parse_stat("").state == "unreadable"
    assert parse_stat("stat=$(reboot)").state == "unreadable"


@pytest.mark.parametrize("st, words", [
    (Stat("symlink"), "is a symbolic link"),
    (Stat("not-a-folder"), "is not a folder"),
    (Stat("unreadable"), "cannot be checked"),
    (Stat("ok", 1000, 0o700, 0), "owned by uid 1000, not by devbench's uid 0"),
    (Stat("ok", 0, 0o777, 0), "writable by others (mode 777)"),
    (Stat("ok", 0, 0o1777, 0), "writable by others (mode 1777)"),
    (Stat("ok", 2000, 0o770, 2000), "writable by others (mode 770)"),
])
def test_folder_problems(st, words):
    problem = folder_problem(st, "/data/local/tmp/devbench")
    assert problem and words in problem and "\n" not in problem and "/data/local/tmp/devbench" in problem


def test_private_folders_pass():
    assert folder_problem(Stat("ok", 0, 0o700, 0), "/w") is None
    assert folder_problem(Stat("ok", 2000, 0o755, 2000), "/w") is None  # ours, written by no one else: tightened


def test_file_problems():
    assert file_problem(Stat("absent"), "/w/j") is None
    assert file_problem(Stat("ok", 0, 0o600, 2000), "/w/j") is None  # written as root (su) by devbench
    assert "owned by uid 1000" in file_problem(Stat("ok", 1000, 0o600, 0), "/w/j")
    assert "writable by others" in file_problem(Stat("ok", 0, 0o666, 0), "/w/j")
    assert "symbolic link" in file_problem(Stat("symlink"), "/w/j")


# -- the real scripts, on this machine ------------------------------------------------------

def local_default() -> LocalTarget:
    return LocalTarget("here", LocalOptions())


def local(path: Path) -> LocalTarget:
    return LocalTarget("here", LocalOptions(workdir=str(path)))


def test_created_0700(tmp_path):
    work = tmp_path / "a" / "work"
    st = ensure_private(local(work), str(work))
    assert st.created and (work.stat().st_mode & 0o777) == 0o700 and work.stat().st_uid == os.getuid()


def test_ours_but_readable_is_tightened(tmp_path):
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    os.chmod(work, 0o755)
    ensure_private(local(work), str(work))
    assert (work.stat().st_mode & 0o777) == 0o700


def test_symlinked_folder_is_refused_and_left(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    work = tmp_path / "work"
    work.symlink_to(elsewhere)
    with pytest.raises(TargetError, match="is a symbolic link: refused") as exc:
        ensure_private(local(work), str(work))
    assert str(exc.value).startswith("here: work folder: ") and "\n" not in str(exc.value)
    assert work.is_symlink() and list(elsewhere.iterdir()) == []


def test_world_writable_folder_is_refused(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(work, 0o1777)
    with pytest.raises(TargetError, match=r"writable by others \(mode 1777\)"):
        ensure_private(local(work), str(work))
    assert (work.stat().st_mode & 0o7777) == 0o1777  # left as it is


def test_a_parent_writable_by_everyone_is_refused(tmp_path):
    """Issue 24 item 7: only the last component was checked; whoever can write a parent can rename
    the private folder away and put another in its place. A world-writable parent without the
    sticky bit is refused, naming it; with the sticky bit (as /tmp) it is fine."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    work = shared / "deeper" / "work"
    with pytest.raises(TargetError, match=f"its parent {shared} is writable by everyone") as exc:
        ensure_private(local(work), str(work))
    assert "\n" not in str(exc.value) and not (shared / "deeper").exists()  # nothing made
    os.chmod(shared, 0o1777)
    st = ensure_private(local(work), str(work))
    assert st.created and work.is_dir()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a link to another uid")
def test_a_parent_that_is_another_users_link_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o755)
    link = tmp_path / "link"
    link.symlink_to(real)
    os.chown(link, NOBODY, NOBODY, follow_symlinks=False)
    work = link / "work"
    with pytest.raises(
        TargetError, match=f"its parent {link} is writable by everyone without the sticky bit, or is a link"
    ):
        ensure_private(local(work), str(work))
    assert list(real.iterdir()) == []
    os.chown(link, 0, 0, follow_symlinks=False)  # root's link (as /var/run -> /run): followed
    assert ensure_private(local(work), str(work)).created


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a folder to another uid")
def test_foreign_owned_folder_is_refused(tmp_path):
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    os.chown(work, NOBODY, NOBODY)
    with pytest.raises(TargetError, match=f"owned by uid {NOBODY}, not by devbench's uid 0"):
        ensure_private(local(work), str(work))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another uid")
def test_foreign_owned_file_is_refused(tmp_path):
    f = tmp_path / "restore-journal.json"
    f.write_text("{}")
    os.chown(f, NOBODY, NOBODY)
    with pytest.raises(TargetError, match=f"owned by uid {NOBODY}"):
        check_file(local(tmp_path), str(f))
    assert check_file(local(tmp_path), str(tmp_path / "absent")) is False


def test_local_default_work_folder_is_per_user_not_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("DEVBENCH_CACHE", str(tmp_path / "cache"))
    assert default_workdir() == str(tmp_path / "cache" / "work")
    monkeypatch.delenv("DEVBENCH_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_workdir() == str(Path.home() / ".cache" / "devbench" / "work")
    assert local_default().workdir == default_workdir()


def test_local_push_replaces_a_planted_link_and_never_writes_through_it(tmp_path):
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("canary")
    mode = victim.stat().st_mode
    (work / "forkbench-x").symlink_to(victim)
    src = tmp_path / "payload"
    src.write_bytes(b"\x7fELF payload")
    local(work).push(src, str(work / "forkbench-x"), 0o755)
    assert victim.read_text() == "canary" and victim.stat().st_mode == mode
    assert not (work / "forkbench-x").is_symlink() and (work / "forkbench-x").read_bytes() == b"\x7fELF payload"
    assert (work / "forkbench-x").stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in work.iterdir()) == ["forkbench-x"]  # no temporary file left
