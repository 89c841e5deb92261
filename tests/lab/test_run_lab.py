"""Acceptance: `devbench run` of a lab config reaches the real lab device over adb and SSH."""

import json

import pytest

from tests.e2e.test_run_local import kernel_has_anon_vma_name
from tests.lab import lines, runs

pytestmark = pytest.mark.lab

FORKS, BATCHES, VMAS = 30, 3, 4096


def lab_config(tmp_path, adb_server, adb_serial, ssh, extra_target=""):
    return f"""\
run: {{name: lab e2e, output: {tmp_path / 'out'}}}
targets:
  - {lines.adb_line("lab-adb", adb_serial, adb_server.port, how="connect")}
  - {lines.ssh_line("lab-ssh", ssh)}
{extra_target}device: {{max_map_count: auto, cpufreq: {{governor: performance, khz: max}}}}
benchmark:
  vmas: {VMAS}
  name_length: 79
  forks: {FORKS}
  warmup: 2
  batches: {BATCHES}
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
    - {{name: 10 pages, pages: 10}}
"""


def test_devbench_run_over_adb_and_ssh(tmp_path, devbench_cmd, adb_server, adb_device_serial, ssh_device):
    cfg = tmp_path / "lab.yaml"
    cfg.write_text(lab_config(tmp_path, adb_server, adb_device_serial, ssh_device))
    res = runs.run([*devbench_cmd, "run", str(cfg)], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    feature = kernel_has_anon_vma_name()
    assert {t["name"]: t["transport"] for t in data["targets"]} == {"lab-adb": "adb", "lab-ssh": "ssh"}
    for t in data["targets"]:
        assert t["facts"]["android"] is False and t["facts"]["root"] is True
        assert t["payload"]["remote"].startswith(
            "/data/local/tmp/devbench/" if t["transport"] == "adb" else "/tmp/devbench/"
        )
        assert "cpufreq not available: frequency not locked" in t["warnings"]  # the lab has no cpufreq: said, and run
        assert t["device"]["root"] == "uid 0" and t["device"]["locked_khz"] == {}
        for sc in ("unpopulated", "1 page", "10 pages"):
            def samples(arm, sc=sc, t=t):
                return [
                    x
                    for s in data["samples"]
                    if (s["target"], s["scenario"], s["arm"]) == (t["name"], sc, arm)
                    for x in s["fork_ns"]
                ]
            assert len(samples("unnamed")) == FORKS
            checks = [
                c for c in data["checks"] if c["target"] == t["name"] and c["scenario"] == sc and c["check"] == "setup"
            ]
            assert [c["vmas_created"] for c in checks] == [VMAS] and checks[0]["vmas_ok"] is True
            if feature:
                assert len(samples("named")) == FORKS
            else:
                assert samples("named") == []
                errs = [e for e in data["errors"] if e["target"] == t["name"] and e["scenario"] == sc]
                assert [(e["kind"], e["arm"]) for e in errs] == [("kernel-lacks-anon-vma-name", "named")]
    assert res.returncode == (0 if feature else 1)
    assert data["run"]["status"] == ("complete" if feature else "failed")
    html = (run_dir / "report.html").read_text()
    assert "lab-adb" in html and "lab-ssh" in html and "kernel-lacks-anon-vma-name" in html or feature


def test_unreachable_target_fails_alone_and_is_named(tmp_path, devbench_cmd, adb_server, adb_device_serial, ssh_device):
    ghost = "  - {name: ghost, ssh: {host: 127.0.0.1, port: 1, user: root, key: KEY, known_hosts: KH}}\n".replace(
        "KEY", str(ssh_device.key)).replace("KH", str(ssh_device.known_hosts))
    cfg = tmp_path / "lab.yaml"
    cfg.write_text(lab_config(tmp_path, adb_server, adb_device_serial, ssh_device, extra_target=ghost))
    res = runs.run([*devbench_cmd, "run", str(cfg), "--target", "ghost", "--target", "lab-ssh"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    ghost_errs = [e for e in data["errors"] if e["target"] == "ghost"]
    assert [e["kind"] for e in ghost_errs] == ["connect-failed"] and "127.0.0.1:1" in ghost_errs[0]["message"]
    assert (
        sum(len(s["fork_ns"]) for s in data["samples"] if s["target"] == "lab-ssh" and s["arm"] == "unnamed")
        == 3 * FORKS
    )
