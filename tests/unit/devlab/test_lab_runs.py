"""tests/lab/runs.py: a lab test whose devbench run failed says why (the run's errors and
devbench's stderr), not "'NoneType' object is not subscriptable"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab import runs

LOCKED = {"run": {"id": "r1", "status": "failed"}, "targets": [{"name": "phone", "status": "failed", "facts": None}],
          "errors": [{"target": "phone", "scenario": None, "arm": None, "kind": "target-failed",
                      "message": "lock: the device is in use by devbench pid 4849 on host (run prep)"}]}


def write_run(out: Path, data: dict) -> Path:
    run_dir = out / "20260101-prep"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(data))
    return run_dir


def failed_run() -> subprocess.CompletedProcess[str]:
    code = "import sys; print('\\n'.join(f'line {i}' for i in range(40)), file=sys.stderr); sys.exit(1)"
    runs.RECENT.clear()
    return runs.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_target_that_never_ran_names_the_errors_and_stderr(tmp_path: Path) -> None:
    write_run(tmp_path / "out", LOCKED)
    res = failed_run()
    data = runs.results(tmp_path / "out", res)
    with pytest.raises(runs.RunFailed) as e:
        runs.target(data, "phone", res)
    msg = str(e.value)
    assert msg.startswith("target phone has no facts: the run never reached it\nrun r1 status failed\n")
    assert "error [target-failed] phone: lock: the device is in use by devbench pid 4849" in msg
    assert "devbench exit 1; its stderr (last 25 lines):\nline 15\n" in msg and msg.endswith("line 39")


def test_target_that_ran_is_returned() -> None:
    data = {"targets": [{"name": "a", "status": "ok", "facts": {"machine": "x86_64"}}]}
    assert runs.target(data)["facts"] == {"machine": "x86_64"}
    with pytest.raises(runs.RunFailed, match="expected one target record named b, found 0"):
        runs.target(data, "b")


def test_missing_results_say_what_devbench_printed(tmp_path: Path) -> None:
    res = failed_run()
    with pytest.raises(runs.RunFailed, match=r"(?s)found 0.*devbench exit 1.*line 39"):
        runs.results(tmp_path / "out", res)


def test_report_text_has_every_run_and_command(tmp_path: Path) -> None:
    write_run(tmp_path / "out", LOCKED)
    failed_run()
    text = runs.report_text(tmp_path)
    assert "results.json:\n  run r1 status failed\n  error [target-failed] phone: lock:" in text
    assert "  target phone status failed" in text
    assert "exit 1; stderr (last 25 lines):\nline 15" in text
    runs.RECENT.clear()
    assert runs.report_text(tmp_path / "nothing") == ""
