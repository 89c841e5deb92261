"""Acceptance (issue 26, item 6): on the lab device, whose kernel is this machine's and lacks
CONFIG_ANON_VMA_NAME, `check` predicts what the run refuses, and the run's FAILED line, table
and --quiet stderr say what was refused and why; the A/A check (placebo) runs there."""

import json

import pytest

from tests.e2e.test_run_local import kernel_has_anon_vma_name
from tests.lab import lines, runs

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(kernel_has_anon_vma_name(), reason="the lab's kernel (this one) has the feature")]

CAUSE = "the kernel's config has no CONFIG_ANON_VMA_NAME: the named arm cannot run (the unnamed arm does)"


def _config(tmp_path, adb_server, serial, placebo=False):
    cfg = tmp_path / "lab.yaml"
    cfg.write_text(f"""\
run: {{name: lab refusals, output: {tmp_path / 'out'}}}
targets:
  - {lines.adb_line("lab-adb", serial, adb_server.port, how="connect")}
device: {{max_map_count: auto}}
benchmark:
  vmas: 1024
  forks: 10
  warmup: 1
  batches: 2
  placebo: {'true' if placebo else 'false'}
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
    - {{name: 10 pages, pages: 10}}
""")
    return str(cfg)


def _devbench(devbench_cmd, *args):
    res = runs.run([*devbench_cmd, *args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_check_predicts_the_unnamed_arm_only_and_the_run_says_why_it_failed(
        tmp_path, devbench_cmd, adb_server, adb_device_serial):
    cfg = _config(tmp_path, adb_server, adb_device_serial)
    check = _devbench(devbench_cmd, "check", cfg, "--no-build")
    assert check.returncode == 3, check.stdout + check.stderr
    assert f"  refused    the named arm of unpopulated, 1 page, 10 pages: kernel-lacks-anon-vma-name: {CAUSE}" \
        in check.stdout
    assert check.stdout.count(CAUSE) == 1
    assert "  ready      unnamed arm only (no CONFIG_ANON_VMA_NAME)" in check.stdout
    assert "the run could start, with refusals (lab-adb: unnamed arm only (no CONFIG_ANON_VMA_NAME)): it would " \
           "exit 1" in check.stdout

    run = _devbench(devbench_cmd, "run", cfg)  # not a terminal: the progress lines
    assert run.returncode == 1
    assert f"[lab-adb] FAILED: the named arm of unpopulated, 1 page, 10 pages: {CAUSE}" in run.stderr
    lines = run.stdout.splitlines()  # 80 columns: a row's verdict may sit on the line under it
    rows = [i for i, line in enumerate(lines) if line.startswith(("unpopulated", "1 page", "10 pages"))]
    assert len(rows) == 3, run.stdout
    assert all("refused: no CONFIG_ANON_VMA_NAME" in " ".join(lines[i:i + 2]) for i in rows), run.stdout
    assert "not measured" not in run.stdout
    flat = " ".join(run.stdout.split())  # notes are wrapped at word boundaries
    assert flat.count(CAUSE) == 1, run.stdout
    assert f"! kernel-lacks-anon-vma-name (unpopulated, 1 page, 10 pages/named): {CAUSE}" in flat

    quiet = _devbench(devbench_cmd, "run", cfg, "--quiet")
    assert quiet.returncode == 1
    assert f"devbench: lab-adb FAILED: the named arm of unpopulated, 1 page, 10 pages: {CAUSE}" in quiet.stderr
    assert "[lab-adb]" not in quiet.stderr


def test_the_placebo_check_runs_on_a_kernel_without_names(tmp_path, devbench_cmd, adb_server, adb_device_serial):
    cfg = _config(tmp_path, adb_server, adb_device_serial, placebo=True)
    check = _devbench(devbench_cmd, "check", cfg, "--no-build")
    assert check.returncode == 0 and "  ready      yes" in check.stdout and "refused" not in check.stdout
    run = _devbench(devbench_cmd, "run", cfg, "--quiet")
    assert run.returncode == 0, run.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    assert data["errors"] == []
    forks = {arm: sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == arm) for arm in ("named", "unnamed")}
    assert forks == {"named": 30, "unnamed": 30}
    assert "refused" not in run.stdout and "A/A run (benchmark.placebo)" in run.stdout
