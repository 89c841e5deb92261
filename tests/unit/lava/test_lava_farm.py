"""What `run --lava` makes of a job LAVA marked Incomplete, from a real one: LAVA 2023.01's results
and log of the lab's stock-kernel job that hung at boot (recorded in tests/lava/data/incomplete
by the real-LAVA test's first try: "wait for prompt timed out"). Pure: no server."""

from __future__ import annotations

import shutil
from pathlib import Path

from devbench.config import load_config
from devbench.lava import farm
from devbench.lava.api import JobState
from devbench.lava.options import options_from_mapping

DATA = Path(__file__).resolve().parents[2] / "lava" / "data" / "incomplete"
CONFIG = """\
run: {name: lava-e2e}
targets: [{name: here, local: {}}]
benchmark:
  vmas: 512
  forks: 10
  batches: 2
  scenarios:
    - {name: unpopulated, pages: 0}
    - {name: 1 page, pages: 1}
"""
OPTIONS = {
    "server": {"url": "http://127.0.0.1:8080/", "user": "devbench"},
    "device_type": "qemu",
    "target": "lava-stock",
    "payload": {"path": "/usr/bin/forkbench"},
    "qemu": {"arch": "amd64", "rootfs_url": "http://127.0.0.1:8010/r"},
}


def test_an_incomplete_job_is_the_targets_error_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "lava-stock"
    shutil.copytree(DATA, folder)
    (tmp_path / "c.yaml").write_text(CONFIG)
    t = farm.FarmTarget("lava-stock", options_from_mapping(OPTIONS), folder, job="2")
    part = farm._collect(load_config(tmp_path / "c.yaml"), t, "Incomplete",
                         JobState("2", "Finished", "Incomplete", "devbench-stock01"))
    assert part["errors"] == [{"target": "lava-stock", "scenario": None, "arm": None, "kind": "lava-incomplete",
                               "message": "LAVA job 2 Incomplete: wait for prompt timed out", "time": None}]
    tgt = part["targets"][0]
    assert tgt["status"] == "failed" and tgt["lava"]["health"] == "Incomplete"
    assert "LAVA login-action: failed" in tgt["warnings"]  # LAVA's failed actions, kept as detail
    assert part["samples"] == []
