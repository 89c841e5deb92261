"""Acceptance (issue 26, items 3 and 4) on real run folders of the lab device: compare refuses
runs of another workload, naming the field and both values (--force: warned on every output),
and several runs a side are each named with their own means."""

import json
import re

import pytest

from tests.lab import lines, runs

pytestmark = pytest.mark.lab


def _config(tmp_path, adb_server, serial, vmas):
    cfg = tmp_path / f"lab-{vmas}.yaml"
    cfg.write_text(f"""\
run: {{name: lab compare {vmas}, output: {tmp_path / 'out'}}}
targets:
  - {lines.adb_line("lab-adb", serial, adb_server.port, how="connect")}
device: {{max_map_count: auto}}
benchmark:
  vmas: {vmas}
  forks: 10
  warmup: 1
  batches: 2
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
""")
    return str(cfg)


def _devbench(devbench_cmd, *args):
    res = runs.run([*devbench_cmd, *args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def _runs_in(output):
    return sorted(p for p in output.iterdir() if not p.is_symlink())  # not the `latest` link


def _run(devbench_cmd, cfg, output):
    res = _devbench(devbench_cmd, "run", cfg, "--quiet", "--output", str(output))
    assert res.returncode in (0, 1), res.stderr  # 1: the lab's kernel refuses the named arm
    return res


def test_compare_of_real_runs_refuses_another_vma_count_and_names_every_run(
        tmp_path, devbench_cmd, adb_server, adb_device_serial):
    small, large = (_config(tmp_path, adb_server, adb_device_serial, v) for v in (1024, 2048))
    for _ in range(3):
        _run(devbench_cmd, small, tmp_path / "a")
        _run(devbench_cmd, small, tmp_path / "b")
    _run(devbench_cmd, large, tmp_path / "c")
    [a1, *_], [c1] = _runs_in(tmp_path / "a"), _runs_in(tmp_path / "c")

    refused = _devbench(devbench_cmd, "compare", str(a1), str(c1))
    assert refused.returncode == 2 and refused.stdout == ""
    assert "devbench: compare: the workloads differ: VMAs: A 1024, B 2048" in refused.stderr.splitlines()
    assert "--force compares them anyway" in refused.stderr and not (c1 / "compare.html").exists()

    forced = _devbench(devbench_cmd, "compare", str(a1), str(c1), "--force", "--format", "markdown")
    assert forced.returncode == 0
    assert "- **warning**: the workloads differ (compared with --force): VMAs: A 1024, B 2048" in forced.stdout
    assert "<li>VMAs: A 1024, B 2048</li>" in (c1 / "compare.html").read_text()

    # the same workload: three runs a side, each named with its kernel and its own means
    res = _devbench(devbench_cmd, "compare", str(tmp_path / "a"), "--against", str(tmp_path / "b"))
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0] == "3 runs of B against 3 runs of A"
    kernel = json.loads((a1 / "results.json").read_text())["targets"][0]["facts"]["kernel_release"]
    for side in "ab":
        for i, run_dir in enumerate(_runs_in(tmp_path / side)):
            assert f"  {side.upper()}{i + 1}: {run_dir.name} (lab compare 1024), kernel {kernel}" in out
    assert "each run's mean fork time (runs are the unit of CHANGE):" in out
    row = next(x for x in out if x.startswith("unpopulated  unnamed") and x.count("ms") == 6)
    assert len(re.findall(r"\d+\.\d\dms", row)) == 6
    html = (_runs_in(tmp_path / "b")[0] / "compare.html").read_text()
    assert html.count('<p class="meta">run ') == 6 and "Each run's mean fork time (ms)" in html
