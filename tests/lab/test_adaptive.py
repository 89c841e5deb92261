"""forks: auto on the real lab device: rounds until the CI is narrow enough, or the cap."""

import json

import pytest

from tests.lab import lines, runs

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    "precision,max_forks,expect", [("50%", 1000, "precision reached"), ("0.001%", 150, "cap reached: 150")]
)
def test_adaptive_rounds_stop_and_say_why(tmp_path, devbench_cmd, ssh_device, precision, max_forks, expect):
    s = ssh_device
    cfg = tmp_path / "auto.yaml"
    cfg.write_text(f"""\
run: {{name: auto, output: {tmp_path / 'out'}}}
targets:
  - {lines.ssh_line("dut", s)}
benchmark:
  vmas: 1024
  forks: auto
  precision: {precision}
  max_forks: {max_forks}
  round_forks: 50
  batches: 5
  warmup: 1
  scenarios:
    - {{name: 1 page, pages: 1}}
""")
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    a = data["targets"][0]["adaptive"]
    sc = a["scenarios"]["1 page"]
    assert sc["stopped"].startswith(expect), sc
    forks = sum(len(x["fork_ns"]) for x in data["samples"] if x["arm"] == "unnamed")
    assert forks == a["rounds"] * 50 == sc["forks"] and forks <= max_forks
    batches = sorted(x["batch"] for x in data["samples"] if x["arm"] == "unnamed")
    assert batches == list(range(a["rounds"] * 5))  # rounds continue the batch numbers
    assert "adaptive sampling: why each scenario stopped" in (run_dir / "report.html").read_text()
