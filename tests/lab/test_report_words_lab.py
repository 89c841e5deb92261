"""The words a reader sees, on a real run folder: the quick start's own config (the feature
kernel under QEMU with instruction counting, 64K VMAs, three scenarios, 10 batches) run for
real, then its text, markdown and HTML, `report` and `compare` with the CI gate (issue 26:
verdicts that say whether a change is real and whether it matters, the margin and method of
every table, the spread next to every mean, a gate that cannot pass having tested nothing,
the ABBA order's first arm alternating and recorded)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from devbench.resources import data_dir
from tests.lab import reading, runs
from tests.lab.test_run_qemu import out_dir, results  # noqa: F401 - out_dir: the fixture that ends QEMU

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(1800)]

SCENARIOS = ("unpopulated", "1 page", "10 pages")
LEGEND = "  95% CI: t on log ratios of 10 paired batch means; margin ±1%; ± is the sd"
# a row read across its lines (tests/lab/reading.py): at 80 columns what did not fit goes on the line
# under it, "p (Holm): <0.001; verdict: slower" or, when p (Holm) fits the row, "verdict: slower"
ROW = re.compile(r"(?P<sc>unpopulated|1 page|10 pages) (?P<un>\d+\.\d\d±[\d.]+ms) (?P<na>\d+\.\d\d±[\d.]+ms) "
                 r"(?P<change>[+-]\d+\.\d\d%) \[(?P<lo>[+-]\d+\.\d\d)%, (?P<hi>[+-]\d+\.\d\d)%\]"
                 r"(?: p \(Holm\):)? (?P<p><0\.001|\d\.\d+);? (?:verdict: )?(?P<verdict>.+)$")


def quickstart_config(tmp_path: Path, out: Path, port: int) -> Path:
    """configs/default.yaml as it is, with the test's adb server and output folder."""
    text = (data_dir("configs") / "default.yaml").read_text()
    text = text.replace("clock: icount}", f"clock: icount, server_port: {port}}}", 1)
    text = text.replace("output: results}", f"output: {out}}}", 1)
    assert f"server_port: {port}" in text and str(out) in text
    cfg = tmp_path / "quickstart.yaml"
    cfg.write_text(text)
    return cfg


def cli(devbench_cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return runs.run([*devbench_cmd, *args], capture_output=True, text=True, timeout=300)


def test_quick_start_words_on_a_real_run(tmp_path, out_dir, devbench_cmd, adb_server):  # noqa: F811
    cfg = quickstart_config(tmp_path, out_dir, adb_server.port)
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=1500)
    run_dir, data = results(out_dir)
    assert res.returncode == 0, (res.stderr, data["errors"])
    print(res.stdout)  # the quick start's table, for the record (pytest -s)
    lines = res.stdout.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith(tuple(f"{sc} " for sc in SCENARIOS))]
    rows = {m["sc"]: m for i in starts for m in [ROW.fullmatch(reading.row(lines, i))] if m}
    assert all(len(ln) <= 80 for ln in lines), res.stdout
    assert sorted(rows) == sorted(SCENARIOS), res.stdout
    for m in rows.values():
        lo, hi, verdict = float(m["lo"]), float(m["hi"]), m["verdict"]
        # each row says whether the change is real and whether it matters
        if lo > 0 or hi < 0:
            kind = "slower" if lo > 0 else "faster"
            assert verdict == (f"{kind}, within ±1%" if -1 <= lo and hi <= 1 else kind), m.group(0)
        elif -1 <= lo and hi <= 1:
            assert verdict == "no difference", m.group(0)
        else:
            assert verdict.startswith("inconclusive: need about "), m.group(0)
        assert "no difference" not in verdict or lo <= 0 <= hi, m.group(0)
        # the change is the estimate the CI is built on: inside its own CI
        assert lo <= float(m["change"].rstrip("%")) <= hi, m.group(0)
    # the legend right under the table: after the last row and the lines under it
    assert LEGEND in lines and all(ln.startswith("    ") for ln in lines[max(starts) + 1:lines.index(LEGEND)])
    assert lines.index(LEGEND) > max(starts), res.stdout
    # the spread of a deterministic guest, for the config's comment: sd in % of the mean per arm
    stats = {(r.scenario, a): (s.stdev / s.mean * 100) for r in _rows(data) for a, s in (("u", r.base),
                                                                                           ("n", r.other))}
    print("sd % of the mean:", {k: round(v, 4) for k, v in stats.items()})
    # the first arm of the ABBA order alternates over the scenarios, and is recorded
    assert data["run"]["first_arm"] == {"unpopulated": "named", "1 page": "unnamed", "10 pages": "named"}
    for sc, first in data["run"]["first_arm"].items():
        order = [(s["batch"], s["arm"]) for s in data["samples"] if s["scenario"] == sc]
        assert order[:2] == [(0, first), (0, "unnamed" if first == "named" else "named")], (sc, order[:4])

    md = cli(devbench_cmd, "report", str(run_dir), "--format", "markdown")
    assert md.returncode == 0 and f"*{LEGEND.strip()}*" in md.stdout and "±" in md.stdout
    html = (run_dir / "report.html").read_text()
    assert "BCa" not in html and "bootstrap" not in html
    assert "t interval on the log ratios of the 10 paired batch means" in html and "± the sd of the forks" in html

    # the gate: a row shown above 0.5% fails it, and says which
    above = [sc for sc, m in rows.items() if float(m["lo"]) > 0.5]
    gate = cli(devbench_cmd, "report", str(run_dir), "--format", "text", "--fail-on-regression", "0.5%")
    assert gate.returncode == (3 if above else 0), gate.stderr
    assert all(f"qemu-x86_64 / {sc}: regression +" in gate.stderr for sc in above), gate.stderr

    # compare of one run a side cannot decide: said on stderr, exit 5 (not 0), unless allowed
    cmp = cli(devbench_cmd, "compare", str(run_dir), str(run_dir), "--output", str(tmp_path / "cmp"),
              "--fail-on-regression", "0")
    assert cmp.returncode == 5, (cmp.stdout, cmp.stderr)
    assert "devbench: gate cannot decide: qemu-x86_64 / unpopulated (unnamed): no verdict: 1 run(s) of A" in cmp.stderr
    assert "not tested against 0%: exit 5 (--allow-inconclusive to pass them)" in cmp.stderr
    assert "95% CI: no row has one; margin ±1%; ± is the sd" in cmp.stdout
    ok = cli(devbench_cmd, "compare", str(run_dir), str(run_dir), "--output", str(tmp_path / "cmp"),
             "--fail-on-regression", "0", "--allow-inconclusive")
    assert ok.returncode == 0 and "--allow-inconclusive: passed" in ok.stderr
    json.loads(cli(devbench_cmd, "report", str(run_dir), "--format", "json").stdout)  # still a summary


def _rows(data):
    from devbench.analysis import analyze

    return analyze(data).rows()
