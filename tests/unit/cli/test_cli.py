import subprocess

import pytest

from tests.unit.config.test_config import SEED


def run_cli(cmd, *args, cwd=None):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("edit,where", [
    (("  forks: 1000", "  forkz: 1000"), ":10:3: benchmark.forkz:"),
    (("vmas: 65536", "vmas: [1]"), ":8:9: benchmark.vmas:"),
    (("name_length: 79", "name_length: 80"), ":9:16: benchmark.name_length:"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, devbench_cmd, edit, where):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(SEED.replace(*edit))
    res = run_cli(devbench_cmd, "run", str(cfg))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) + where in lines[0] and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_usage_errors_exit_2(devbench_cmd, tmp_path):
    res = run_cli(devbench_cmd, "run", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "no such file" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli(devbench_cmd, "frobnicate")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli(devbench_cmd, "report", str(tmp_path))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_unknown_target_selection(devbench_cmd, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SEED)
    res = run_cli(devbench_cmd, "run", str(cfg), "--target", "nope")
    assert res.returncode == 2 and "no target named 'nope'" in res.stderr
