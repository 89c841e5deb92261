"""Issue 24 item 5: what devbench writes on this machine (as root) goes through a new temporary
file made exclusively in the destination's folder (mkstemp: O_EXCL, never through a link) and
renamed onto the final name, which replaces a link there instead of writing through it.

Each test plants symbolic links at the names devbench used to write through (the old predictable
temporary names, and the final names) pointing at canary files outside the folder, runs the real
code path, and checks the canaries are untouched and the output is right.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from devbench import cache
from devbench.config import load_config
from devbench.lava import farm
from devbench.lava.api import JobState
from devbench.lava.options import options_from_mapping
from devbench.lava.publish import publish_payload
from devbench.results import outfiles
from devbench.results.outfiles import write_whole
from devbench.results.store import ResultsStore, new_results

CANARY = "canary: not devbench's to write\n"


def canary(tmp_path: Path, name: str) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    c = outside / name
    c.write_text(CANARY)
    c.chmod(0o600)
    return c


def plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def untouched(*canaries: Path) -> None:
    for c in canaries:
        assert c.read_text() == CANARY, c
        assert stat.S_IMODE(c.stat().st_mode) == 0o600, c


def regular(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), f"{path} is not a regular file"


def no_temporaries(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".part", ".new"))
            and not p.is_symlink()] == []


def _store(run_dir: Path) -> ResultsStore:
    cfg = {"benchmark": {"scenarios": [{"name": "s", "pages": 1}]}}
    st = ResultsStore(run_dir / "results.json", new_results("id1", "n", cfg, "c.yaml"))
    st.add_sample("t", "s", "unnamed", 0, 1, [1_000_000, 3_000_000])
    st.add_sample("t", "s", "named", 0, 1, [2_000_000, 2_200_000])
    return st


def test_the_helper_writes_through_no_link_and_sets_the_mode(tmp_path: Path) -> None:
    c1, c2 = canary(tmp_path, "one"), canary(tmp_path, "two")
    folder = tmp_path / "out"
    plant(folder / "data.bin", c1)
    plant(folder / "data.bin.tmp", c2)
    outfiles.atomic_write(folder / "data.bin", b"\x00bytes", mode=0o640)
    untouched(c1, c2)
    regular(folder / "data.bin")
    assert (folder / "data.bin").read_bytes() == b"\x00bytes"
    assert stat.S_IMODE((folder / "data.bin").stat().st_mode) == 0o640
    outfiles.atomic_write(folder / "t.txt", "text é")
    assert (folder / "t.txt").read_text(encoding="utf-8") == "text é"
    assert stat.S_IMODE((folder / "t.txt").stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["data.bin", "data.bin.tmp", "t.txt"]


def test_the_helper_leaves_no_temporary_file_on_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "dir").mkdir()
    (folder / "dir" / "x").write_text("x")
    with pytest.raises(OSError):
        outfiles.atomic_write(folder / "dir", "a folder cannot be replaced by a file")
    assert sorted(p.name for p in folder.iterdir()) == ["dir"]


def test_devbench_report_writes_no_file_through_a_planted_link(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _store(run_dir).finish("complete")
    c_tmp, c_final = canary(tmp_path, "tmp"), canary(tmp_path, "final")
    plant(run_dir / "report.html.tmp", c_tmp)
    plant(run_dir / "report.html", c_final)
    res = subprocess.run([sys.executable, "-m", "devbench", "report", str(run_dir)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    untouched(c_tmp, c_final)
    regular(run_dir / "report.html")
    assert "<html" in (run_dir / "report.html").read_text().lower()


def test_the_results_store_writes_no_file_through_a_planted_link(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    c_tmp, c_final = canary(tmp_path, "tmp"), canary(tmp_path, "final")
    plant(run_dir / "results.json.tmp", c_tmp)
    plant(run_dir / "results.json", c_final)
    st = _store(run_dir)
    st.finish("complete")
    untouched(c_tmp, c_final)
    regular(run_dir / "results.json")
    data = json.loads((run_dir / "results.json").read_text())
    assert data["run"]["status"] == "complete" and len(data["samples"]) == 2
    no_temporaries(run_dir)


def test_exports_and_cache_markers_write_no_file_through_a_planted_link(tmp_path: Path) -> None:
    c_export, c_new = canary(tmp_path, "export"), canary(tmp_path, "new")
    out = tmp_path / "exports" / "summary.md"
    plant(out, c_export)
    write_whole(out, "| a |\n")
    untouched(c_export)
    regular(out)
    assert out.read_text() == "| a |\n"
    entry = tmp_path / "cache" / "payload-x"
    entry.mkdir(parents=True)
    plant(cache.marker_path(entry).with_name(cache.marker_path(entry).name + ".new"), c_new)
    cache.mark_complete(entry, {"sha256": "ab"})
    untouched(c_new)
    regular(cache.marker_path(entry))
    assert cache.is_complete(entry) and json.loads(cache.marker_path(entry).read_text()) == {"sha256": "ab"}


LAVA_CONFIG = """\
run: {name: planted}
targets: [{name: here, local: {}}]
benchmark:
  vmas: 256
  forks: 4
  batches: 2
  scenarios:
    - {name: unpopulated, pages: 0}
"""


def test_the_lava_payload_is_published_through_no_planted_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = tmp_path / "built" / "forkbench"
    built.parent.mkdir()
    built.write_bytes(b"\x7fELF the payload")
    sha = "ab" * 32
    monkeypatch.setattr("devbench.payload.build.build", lambda abi, cfg: SimpleNamespace(path=built, sha256=sha))
    (tmp_path / "c.yaml").write_text(LAVA_CONFIG)
    cfg = load_config(tmp_path / "c.yaml")
    www = tmp_path / "www"
    opts = options_from_mapping({"device_type": "qemu", "payload": {"dir": str(www), "base_url": "http://files.example/"},
                                 "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
    name = f"forkbench-{sha[:12]}"
    c_part = canary(tmp_path, "part")
    plant(www / f"{name}.part", c_part)
    got = publish_payload(cfg, opts, lambda text: None)
    untouched(c_part)  # neither written nor chmod-ed through the link
    regular(www / name)
    assert (www / name).read_bytes() == built.read_bytes()
    assert stat.S_IMODE((www / name).stat().st_mode) == 0o644
    assert got.payload.url == f"http://files.example/{name}" and got.payload.sha256 == sha
    # a link planted at the published name is not taken for the payload: it is replaced
    (www / name).unlink()
    c_final = canary(tmp_path, "final")
    plant(www / name, c_final)
    publish_payload(cfg, opts, lambda text: None)
    untouched(c_final)
    regular(www / name)
    assert (www / name).read_bytes() == built.read_bytes()


class _FakeApi:
    def __init__(self, url: str, user: str, token: str) -> None:
        self.submitted: list[str] = []

    def submit(self, job_yaml: str) -> str:
        self.submitted.append(job_yaml)
        return "7"

    def results_yaml(self, job: str) -> str:
        return "[]\n"

    def logs(self, job: str, start: int) -> tuple[int, str]:
        return 0, "[]\n"


def test_a_lava_targets_files_are_written_through_no_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text(LAVA_CONFIG)
    cfg = load_config(tmp_path / "c.yaml")
    opts = options_from_mapping({"server": {"url": "http://127.0.0.1:9/", "user": "devbench"}, "device_type": "qemu",
                                 "target": "lava-x", "payload": {"path": "/usr/bin/forkbench"},
                                 "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
    folder = tmp_path / "run" / "lava" / "lava-x"
    canaries = {name: canary(tmp_path, name) for name in ("job.yaml", "job.json", "results.yaml", "log.yaml")}
    for name, c in canaries.items():
        plant(folder / name, c)
    monkeypatch.setattr(farm, "LavaApi", _FakeApi)
    monkeypatch.setattr(farm, "token_for", lambda server: "t0ken")
    monkeypatch.setattr(farm, "_check_devices", lambda api, o: None)
    monkeypatch.setattr(farm, "_wait", lambda api, t, *a: JobState("7", "Finished", "Complete", "qemu01"))
    monkeypatch.setattr(farm, "_collect", lambda cfg, t, health, st: {"health": health})
    t = farm.FarmTarget("lava-x", opts, folder)
    assert farm._target(cfg, t, lambda name, text: None, threading.Event(), 0.01, 1.0) == {"health": "Complete"}
    untouched(*canaries.values())
    for name in canaries:
        regular(folder / name)
    assert "devbench" in (folder / "job.yaml").read_text()
    assert json.loads((folder / "job.json").read_text())["job"] == "7"
    assert (folder / "results.yaml").read_text() == "[]\n" and (folder / "log.yaml").read_text() == "[]\n"
