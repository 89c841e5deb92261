"""`devbench lava-job` and `devbench lava-results` through the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.unit.lava.test_lava_results import OUTPUTS, Lab, fork_ns_of, samples_of

CLI = [sys.executable, "-m", "devbench"]


def test_lava_results_makes_a_run_folder_that_report_rerenders(tmp_path):
    lab = Lab(tmp_path, OUTPUTS)
    out = tmp_path / "runs"
    res = subprocess.run([*CLI, "lava-results", str(lab.results), "--log", str(lab.log), "--output", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "qemu-x86" in res.stdout and "REGRESSION" in res.stdout
    [run_dir] = list(out.iterdir())
    data = json.loads((run_dir / "results.json").read_text())
    assert samples_of(data, "10 pages", "named") == fork_ns_of(OUTPUTS[10][0], "named")
    again = subprocess.run(
        [*CLI, "report", str(run_dir), "--format", "csv"], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "unpopulated" in again.stdout


def test_lava_results_refuses_a_malformed_file_in_one_line(tmp_path):
    bad = tmp_path / "results.yaml"
    bad.write_text("just: [a, mapping\n")
    res = subprocess.run([*CLI, "lava-results", str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"devbench: {bad}") and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.lava
@pytest.mark.skipif(
    not shutil.which("python3") or subprocess.run(["/usr/bin/python3", "-c", "import lava_common"]).returncode,
    reason="lava-common (Debian package) is not installed",
)
def test_lava_job_writes_a_job_that_lavas_validator_accepts(tmp_path):
    opts = tmp_path / "lava.yaml"
    opts.write_text(
        yaml.safe_dump(
            {
                "device_type": "qemu",
                "target": "qemu-x86",
                "payload": {"url": "https://files.example.org/forkbench-x86_64", "sha256": "0" * 64},
                "qemu": {
                    "arch": "amd64",
                    "rootfs_url": "https://images.example.org/r.img.gz",
                    "rootfs_compression": "gz",
                },
            }
        )
    )
    # links planted at both output names (issue 24 item 5): replaced, never written through
    (tmp_path / "job").mkdir()
    canaries = [tmp_path / "canary-job", tmp_path / "canary-testdef"]
    for canary, name in zip(canaries, ("job.yaml", "devbench.yaml"), strict=True):
        canary.write_text("canary\n")
        (tmp_path / "job" / name).symlink_to(canary)
    res = subprocess.run(
        [
            *CLI,
            "lava-job",
            "configs/default.yaml",
            "--lava",
            str(opts),
            "--validate",
            "--output",
            str(tmp_path / "job"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert all(c.read_text() == "canary\n" for c in canaries)
    assert not any((tmp_path / "job" / n).is_symlink() for n in ("job.yaml", "devbench.yaml"))
    job = yaml.safe_load((tmp_path / "job" / "job.yaml").read_text())
    assert job["device_type"] == "qemu" and any("test" in a for a in job["actions"])
    testdef = yaml.safe_load((tmp_path / "job" / "devbench.yaml").read_text())
    assert testdef["metadata"]["format"] == "Lava-Test Test Definition 1.0"
