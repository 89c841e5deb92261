"""devbench against a real LAVA 2023.01 instance (devlab/lava): lava-server, its scheduler,
a lava-worker running QEMU jobs under TCG, on loopback; started by the module fixture and
stopped by PID (unless it was running before the tests).

- a small config runs through LAVA on devbench's feature kernel and on Debian's stock kernel,
  and directly (devbench's own QEMU targets) on the same kernels: the same scenarios, arms,
  batch counts and error kinds, and on the feature kernel (instruction counting on both
  sides) fork medians within MEDIAN_TOLERANCE; a device type with no device is that target's
  one-line error while the others go on; the token is nowhere in the output or the run folder
- SIGTERM during a job cancels it on the server; --resume submits again and completes; a
  second --resume only reads what was collected
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from devbench.device.procid import ProcId, is_running
from devbench.guest.errors import LabError
from devbench.lava.api import LavaApi
from devbench.lava.validate import validate_job
from devlab.lava import instance

pytestmark = [pytest.mark.lava, pytest.mark.qemu, pytest.mark.timeout(2400)]

MEDIAN_TOLERANCE = 0.03
CONFIG = """\
run: {{name: lava e2e, output: {out}}}
targets:
  - {{name: qemu-feature, qemu: {{arch: x86_64, kernel: feature, memory_mb: 1024, cpus: 2, clock: icount}}}}
  - {{name: qemu-stock, qemu: {{arch: x86_64, kernel: stock, memory_mb: 1024, cpus: 1}}}}
device: {{max_map_count: auto}}
benchmark:
  vmas: 2048
  name_length: 79
  forks: 12
  warmup: 1
  batches: 2
  timeout_s: 120
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
"""
KIND_OF = {"lava-feature": "feature", "lava-stock": "stock", "qemu-feature": "feature", "qemu-stock": "stock"}


@pytest.fixture(scope="module")
def lava_lab() -> Any:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the LAVA lab needs root on Linux (PostgreSQL, lava-server, /etc/lava-server)")
    try:
        instance._check_packages()
    except LabError as exc:
        pytest.skip(str(exc))
    before = instance.lab_of()
    t0 = time.monotonic()
    lab = instance.up(say=lambda s: print(f"lava-lab: {s}"))
    print(f"\nLAVA lab up in {time.monotonic() - t0:.1f} s ({'already running' if before else 'started'})")
    state = json.loads((instance.state_dir() / "state.json").read_text())
    yield lab
    if before is None:
        instance.down()
        for name in (*instance.SERVICES, "postgres"):
            rec = state.get(name)
            if rec:
                assert not is_running(ProcId(rec["pid"], rec["start"])), f"{name} (pid {rec['pid']}) outlived down()"


def _options(tmp_path: Path, lab: instance.LavaLab, kind: str, **over: Any) -> Path:
    p = tmp_path / f"lava-{kind}-{over.get('target', kind)}.yaml"
    p.write_text(yaml.safe_dump({**instance.lava_options(lab, kind), **over}))
    return p


def _config(tmp_path: Path) -> Path:
    p = tmp_path / "lava-e2e.yaml"
    p.write_text(CONFIG.format(out=tmp_path / "out"))
    return p


def _devbench(args: list[str], env: dict[str, str], timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devbench", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _run_dir(stderr: str) -> Path:
    line = next(ln for ln in stderr.splitlines() if ln.startswith("devbench: run "))
    return Path(line.split("devbench: run ", 1)[1].strip())


def _shape(data: dict[str, Any]) -> dict[str, Any]:
    """Per kind of kernel: {(scenario, arm): (batches, forks)} and the error kinds."""
    out: dict[str, Any] = {}
    for s in data["samples"]:
        k = out.setdefault(KIND_OF[s["target"]], {"batches": {}, "errors": set()})
        b, n = k["batches"].get((s["scenario"], s["arm"]), (0, 0))
        k["batches"][(s["scenario"], s["arm"])] = (b + 1, n + len(s["fork_ns"]))
    for e in data["errors"]:
        if e.get("target") in KIND_OF:
            out.setdefault(KIND_OF[e["target"]], {"batches": {}, "errors": set()})["errors"].add(
                (e.get("scenario"), e.get("arm"), e["kind"]))
    return out


def _medians(data: dict[str, Any], target: str) -> dict[tuple[str, str], float]:
    ns: dict[tuple[str, str], list[int]] = {}
    for s in data["samples"]:
        if s["target"] == target:
            ns.setdefault((s["scenario"], s["arm"]), []).extend(s["fork_ns"])
    return {k: statistics.median(v) / 1e6 for k, v in ns.items()}


def test_a_config_through_real_lava_matches_the_direct_run(lava_lab: instance.LavaLab, tmp_path: Path) -> None:
    token = lava_lab.token()
    env = {**os.environ, "DEVBENCH_LAVA_TOKEN": token, "XDG_CONFIG_HOME": str(tmp_path / "no-lavacli")}
    cfg = _config(tmp_path)
    feature, stock = _options(tmp_path, lava_lab, "feature"), _options(tmp_path, lava_lab, "stock")
    nodevice = _options(tmp_path, lava_lab, "feature", target="lava-none", device_type="devbench-none")
    t0 = time.monotonic()
    lava = _devbench(["run", str(cfg), "--lava", str(feature), "--lava", str(stock), "--lava", str(nodevice)], env)
    lava_s = time.monotonic() - t0
    print(f"\nthrough LAVA (2 jobs in parallel + 1 refused): {lava_s:.0f} s\n{lava.stderr[-3000:]}")
    assert lava.returncode == 1, lava.stderr[-3000:]  # the stock kernel refuses the named arm; lava-none fails
    lava_dir = _run_dir(lava.stderr)
    data = json.loads((lava_dir / "results.json").read_text())
    status = {t["name"]: t["status"] for t in data["targets"]}
    assert status == {"lava-feature": "ok", "lava-stock": "failed", "lava-none": "failed"}, data["errors"]
    none_err = [e for e in data["errors"] if e["target"] == "lava-none"]
    assert len(none_err) == 1 and "no idle device of type devbench-none" in none_err[0]["message"]
    assert "\n" not in none_err[0]["message"]
    # progress per job: submitted, queued, running, each test case, complete
    for text in ("LAVA job", "submitted", "queued", "running on devbench-qemu01", "case unpopulated.unnamed: pass",
                 "case unpopulated.named.exit: pass", "complete after"):
        assert text in lava.stderr, text
    assert (lava_dir / "report.html").is_file()
    # the token: not in the output, not in any file of the run folder
    assert token not in lava.stdout + lava.stderr
    for f in lava_dir.rglob("*"):
        if f.is_file():
            assert token.encode() not in f.read_bytes(), f
    # what was submitted passes LAVA's own validator, strict (lava-common, as lava-server checks it)
    for name in ("lava-feature", "lava-stock"):
        assert validate_job((lava_dir / "lava" / name / "job.yaml").read_text()) == []
    # exit_ns came through LAVA like fork_ns
    feat = [s for s in data["samples"] if s["target"] == "lava-feature"]
    assert feat and all(len(s.get("exit_ns") or []) == len(s["fork_ns"]) for s in feat)

    t1 = time.monotonic()
    direct = _devbench(["run", str(cfg), "--quiet"], {**os.environ})
    direct_s = time.monotonic() - t1
    print(f"direct QEMU runs: {direct_s:.0f} s")
    assert direct.returncode == 1, direct.stderr[-3000:]
    ddata = json.loads((_run_dir(direct.stderr) / "results.json").read_text())
    got, want = _shape(data), _shape(ddata)
    assert got["feature"] == want["feature"], (got, want)
    assert got["stock"] == want["stock"], (got, want)
    assert ("unpopulated", "named", "kernel-lacks-anon-vma-name") in got["stock"]["errors"]
    lm, dm = _medians(data, "lava-feature"), _medians(ddata, "qemu-feature")
    for key in dm:
        rel = lm[key] / dm[key] - 1
        print(f"feature {key}: LAVA {lm[key]:.4f} ms, direct {dm[key]:.4f} ms ({rel:+.1%})")
        assert abs(rel) <= MEDIAN_TOLERANCE, (key, lm[key], dm[key])


def test_sigterm_cancels_the_job_and_resume_completes(lava_lab: instance.LavaLab, tmp_path: Path) -> None:
    # the token from lavacli's identity file this time (no $DEVBENCH_LAVA_TOKEN)
    conf = tmp_path / "xdg"
    conf.mkdir()
    (conf / "lavacli.yaml").write_text(yaml.safe_dump({"lab": {"uri": lava_lab.rpc_url, "username": lava_lab.user,
                                                               "token": lava_lab.token()}}))
    env = {k: v for k, v in os.environ.items() if k != "DEVBENCH_LAVA_TOKEN"}
    env["XDG_CONFIG_HOME"] = str(conf)
    cfg = _config(tmp_path)
    feature = _options(tmp_path, lava_lab, "feature")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devbench", "run", str(cfg), "--lava", str(feature)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "running on" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + err
    (tmp_path / "interrupted.stderr").write_text(err)
    assert proc.returncode == 130, err[-2000:]
    run_dir = _run_dir(err)
    job = json.loads((run_dir / "lava" / "lava-feature" / "job.json").read_text())
    api = LavaApi(lava_lab.url, lava_lab.user, lava_lab.token())
    st = api.state(job["job"])
    assert (st.state, st.health) == ("Finished", "Canceled"), (st, err[-2000:])
    assert "cancelled" in err

    resumed = _devbench(["run", "--resume", str(run_dir)], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    data = json.loads((run_dir / "results.json").read_text())
    assert data["run"]["status"] == "complete" and data["targets"][0]["status"] == "ok"
    job2 = json.loads((run_dir / "lava" / "lava-feature" / "job.json").read_text())
    assert job2["job"] != job["job"] and job2["health"] == "Complete"
    assert {(s["scenario"], s["arm"]) for s in data["samples"]} == {
        (sc, arm) for sc in ("unpopulated", "1 page") for arm in ("unnamed", "named")}

    again = _devbench(["run", "--resume", str(run_dir)], env)
    assert again.returncode == 0 and "results already collected" in again.stderr, again.stderr[-2000:]
    assert json.loads((run_dir / "lava" / "lava-feature" / "job.json").read_text())["job"] == job2["job"]
