"""The shipped lab smoke config, as a user runs it: `lab up --config-out`, then `devbench run`."""

import json
import signal
import subprocess
import sys
import time

import pytest

from devbench.config import load_config
from devbench.resources import data_dir
from tests.lab import runs


def test_shipped_configs_parse():
    for name in ("default.yaml", "local.yaml", "seed.yaml", "lab-smoke.yaml", "emulator-smoke.yaml"):
        cfg = load_config(data_dir("configs") / name)
        assert cfg.benchmark.scenarios and cfg.targets


@pytest.mark.lab
def test_lab_up_writes_a_smoke_config_that_runs(tmp_path, devbench_cmd, adb_server, lab_rootfs):
    out = tmp_path / "smoke.yaml"
    up = subprocess.Popen(
        [sys.executable, "-m", "devlab", "up", "--config-out", str(out), "--adb-server-port", str(adb_server.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(_read_json(up))
        assert info["config"] == str(out)
        res = runs.run([*devbench_cmd, "run", str(out), "--output", str(tmp_path / "res"), "--quiet"],
                             capture_output=True, text=True, timeout=600)
        assert "Traceback" not in res.stderr
        [run_dir] = [p for p in (tmp_path / "res").iterdir() if not p.is_symlink()]
        data = json.loads((run_dir / "results.json").read_text())
        cfg = load_config(out)
        for t in ("lab-adb", "lab-ssh"):
            n = sum(len(s["fork_ns"]) for s in data["samples"] if s["target"] == t and s["arm"] == "unnamed")
            assert n == cfg.benchmark.forks * len(cfg.benchmark.scenarios)
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=30)
    assert up.returncode == 0


def _read_json(proc):
    text, deadline = "", time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"lab up ended: {proc.stderr.read()}")
        text += line
        if line.startswith("}"):
            return text
    raise AssertionError("lab up printed nothing in time")
