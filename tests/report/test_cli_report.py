"""devbench report / compare / run --fail-on-regression through the real command line."""

import csv
import io
import json
import subprocess

import pytest

from devbench import cli
from tests.simdata import make_results

SHIFTS = {"unpopulated": 0.12, "1 page": 0.0, "10 pages": 0.04}


def run_cli(cmd, *args):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run-a"
    d.mkdir()
    (d / "results.json").write_text(json.dumps(make_results(shifts=SHIFTS, seed=41)))
    return d


def test_report_formats(devbench_cmd, run_dir):
    text = run_cli(devbench_cmd, "report", str(run_dir), "--format", "text")
    assert text.returncode == 0 and "REGRESSION" in text.stdout and "95% CI" in text.stdout and "slower" in text.stdout
    md = run_cli(devbench_cmd, "report", str(run_dir / "results.json"), "--format", "markdown")
    assert md.returncode == 0 and "| unpopulated |" in md.stdout and "| p (Holm) |" in md.stdout
    rows = list(csv.DictReader(io.StringIO(run_cli(devbench_cmd, "report", str(run_dir), "--format", "csv").stdout)))
    assert [r["scenario"] for r in rows] == ["unpopulated", "1 page", "10 pages"]
    js = json.loads(run_cli(devbench_cmd, "report", str(run_dir), "--format", "json").stdout)
    assert js["schema"] == "devbench/summary/1" and js["targets"][0]["rows"][0]["verdict"] == "slower"
    html = run_cli(devbench_cmd, "report", str(run_dir))
    assert html.returncode == 0 and html.stdout.strip() == str(run_dir / "report.html")
    exits = {s["scenario"] for s in json.loads((run_dir / "results.json").read_text())["samples"] if s.get("exit_ns")}
    # the CI plot, a distribution and a timeline per scenario, a child-exit distribution per scenario with exit times
    assert (run_dir / "report.html").read_text().count("<svg") == 7 + len(exits)


def test_margin_changes_the_verdict(devbench_cmd, run_dir):
    wide = json.loads(run_cli(devbench_cmd, "report", str(run_dir), "--format", "json", "--margin", "50").stdout)
    # a real change stays real inside a wide margin, and says it is within it
    assert [r["verdict"] for r in wide["targets"][0]["rows"]] == ["slower, within ±50%", "no difference",
                                                                 "slower, within ±50%"]
    assert run_cli(devbench_cmd, "report", str(run_dir), "--margin", "-1").returncode == 2


def test_report_gate_exits_3_and_names_the_scenario(devbench_cmd, run_dir):
    res = run_cli(devbench_cmd, "report", str(run_dir), "--format", "text", "--fail-on-regression", "5")
    assert res.returncode == 3
    [line] = [ln for ln in res.stderr.splitlines() if "regression:" in ln]
    assert "phone / unpopulated" in line and "above 5%" in line
    assert (
        run_cli(devbench_cmd, "report", str(run_dir), "--format", "text", "--fail-on-regression", "30").returncode == 0
    )


def test_compare_prints_the_table_and_writes_compare_html(devbench_cmd, run_dir, tmp_path):
    b = tmp_path / "run-b"
    b.mkdir()
    (b / "results.json").write_text(json.dumps(make_results(shifts=SHIFTS, seed=42, scale=1.2, target="phone2")))
    res = run_cli(devbench_cmd, "compare", str(run_dir), str(b))
    assert res.returncode == 0, res.stderr
    assert "phone (A) → phone2 (B)" in res.stdout and "CHANGE" in res.stdout
    # one run a side: the change is shown, never a verdict (run-to-run noise cannot be told apart)
    # fork and exit rows
    assert res.stdout.count("slower") == 0 and res.stdout.count("no verdict: 1 run(s) of A and 1 of B") == 12
    assert "The child's exit (exit_ns" in res.stdout and (b / "compare.html").exists()
    out = tmp_path / "cmp"
    res = run_cli(devbench_cmd, "compare", str(run_dir), str(b), "--output", str(out), "--format", "json")
    pairs = json.loads(res.stdout)["pairs"]
    assert res.returncode == 0 and len(pairs[0]["rows"]) == 6
    assert 'href="../run-a/results.json"' in (out / "compare.html").read_text()
    assert run_cli(devbench_cmd, "compare", str(run_dir), str(tmp_path / "nope")).returncode == 2


def test_compare_of_runs_per_side_gives_verdicts(devbench_cmd, tmp_path):
    """Three runs a side (a folder of run folders for A, a list for B): the run is the unit."""
    for side, scale, seed in (("a", 1.0, 60), ("b", 1.2, 70)):
        for i in range(3):
            d = tmp_path / side / f"run-{i}"
            d.mkdir(parents=True)
            (d / "results.json").write_text(json.dumps(make_results(seed=seed + i, scale=scale, run_sd=0.01)))
    b_runs = [str(tmp_path / "b" / f"run-{i}") for i in range(3)]
    res = run_cli(devbench_cmd, "compare", str(tmp_path / "a"), "--against", *b_runs)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("slower") >= 6 and "compare 3 run(s) of A against 3 of B" in res.stderr
    assert run_cli(devbench_cmd, "compare", *b_runs).returncode == 2  # three runs, no --against: which side?


LOCAL = """\
run: {name: gate, output: OUT}
targets:
  - {name: here, local: {}}
benchmark:
  forks: 1000
  batches: 10
  scenarios:
    - {name: unpopulated, pages: 0}
    - {name: 1 page, pages: 1}
    - {name: 10 pages, pages: 10}
"""


@pytest.mark.parametrize("threshold,code", [("5", 3), ("40", 0)])
def test_run_gate(tmp_path, monkeypatch, capsys, threshold, code):
    """The gate after `devbench run`: the device work is replaced by simulated samples."""
    sim = make_results(shifts=SHIFTS, seed=43, target="here")

    def fake_execute(cfg, store, progress=None, **kwargs):
        for s in sim["samples"]:
            store.data["samples"].append(s)
        store.finish("complete")
        return True

    monkeypatch.setattr("devbench.run.runner.execute", fake_execute)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(LOCAL.replace("OUT", str(tmp_path / "out")))
    assert cli.main(["run", str(cfg), "--quiet", "--fail-on-regression", threshold]) == code
    err = capsys.readouterr().err
    assert ("regression: here / unpopulated" in err) == (code == 3)


@pytest.mark.parametrize("extra,ok,code", [([], True, 5), (["--allow-inconclusive"], True, 0), ([], False, 1)])
def test_run_gate_that_cannot_decide_says_so(tmp_path, monkeypatch, capsys, extra, ok, code):
    """3 batches: no CI, so the gate tested nothing: exit 5 and why (not 0 in silence); with
    --allow-inconclusive 0; a failed target's 1 comes first (the failure is why)."""
    sim = make_results(shifts=SHIFTS, seed=44, target="here", batches=3)

    def fake_execute(cfg, store, progress=None, **kwargs):
        store.data["samples"].extend(sim["samples"])
        store.finish("complete")
        return ok

    monkeypatch.setattr("devbench.run.runner.execute", fake_execute)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(LOCAL.replace("OUT", str(tmp_path / "out")))
    assert cli.main(["run", str(cfg), "--quiet", "--fail-on-regression", "5%", *extra]) == code
    err = capsys.readouterr().err
    assert "devbench: gate cannot decide: here / unpopulated: no verdict: only 3 paired batches" in err
    assert "devbench: gate: 3 rows not tested against 5%" in err
