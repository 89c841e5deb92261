"""The `latest` link and whole-file exports (devbench/results/outfiles.py), on the real filesystem."""

from __future__ import annotations

import os
from pathlib import Path

from devbench.results.outfiles import link_latest, write_whole


def test_latest_is_a_relative_link_moved_to_each_new_run(tmp_path: Path) -> None:
    a, b = tmp_path / "run-a", tmp_path / "run-b"
    a.mkdir(), b.mkdir()
    assert link_latest(a) is None and os.readlink(tmp_path / "latest") == "run-a"
    (a / "results.json").write_text("{}")
    assert (tmp_path / "latest" / "results.json").read_text() == "{}"
    assert link_latest(b) is None and os.readlink(tmp_path / "latest") == "run-b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "run-a", "run-b"]  # no temporary names left


def test_latest_never_replaces_a_file_or_folder_of_the_user(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "latest").mkdir()
    (tmp_path / "latest" / "mine").write_text("keep")
    why = link_latest(run)
    assert why is not None and "is not a symlink" in why and (tmp_path / "latest" / "mine").read_text() == "keep"
    (tmp_path / "latest" / "mine").unlink()
    (tmp_path / "latest").rmdir()
    (tmp_path / "latest").write_text("also mine")
    assert link_latest(run) is not None and (tmp_path / "latest").read_text() == "also mine"


def test_a_dangling_latest_link_is_replaced(tmp_path: Path) -> None:
    os.symlink("gone", tmp_path / "latest")
    run = tmp_path / "run"
    run.mkdir()
    assert link_latest(run) is None and os.readlink(tmp_path / "latest") == "run"


def test_write_whole_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.json"
    write_whole(out, "x\n")
    write_whole(out, "y\n")
    assert out.read_text() == "y\n" and [p.name for p in out.parent.iterdir()] == ["r.json"]
