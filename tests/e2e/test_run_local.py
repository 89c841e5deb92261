"""devbench run end to end on this machine (the local transport), through the real CLI."""

import ctypes
import json
import subprocess

import pytest

PR_SET_VMA, PR_SET_VMA_ANON_NAME = 0x53564D41, 0


def kernel_has_anon_vma_name() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    addr = libc.mmap(None, 4096, 3, 0x22, -1, 0)
    rc = libc.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, ctypes.c_ulong(addr), ctypes.c_ulong(4096), ctypes.c_char_p(b"x"))
    return rc == 0


CONFIG = """\
run: {name: local e2e, output: OUT}
targets:
  - {name: here, local: {}}
benchmark:
  vmas: 1024
  forks: 12
  warmup: 1
  batches: 3
  mode: MODE
  scenarios:
    - {name: unpopulated, pages: 0}
    - {name: 1 page, pages: 1}
"""


@pytest.mark.parametrize("mode", ["interleaved", "separate"])
def test_run_local_records_samples_checks_and_the_feature_verdict(tmp_path, devbench_cmd, mode):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.replace("OUT", str(tmp_path / "out")).replace("MODE", mode))
    res = subprocess.run([*devbench_cmd, "run", str(cfg)], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    assert data["schema"] == "devbench/results/2" and data["run"]["status"] in ("complete", "failed")
    assert data["targets"][0]["facts"]["abi"] in ("x86_64", "aarch64")
    for sc in ("unpopulated", "1 page"):
        unnamed = [x for s in data["samples"] if s["scenario"] == sc and s["arm"] == "unnamed" for x in s["fork_ns"]]
        assert len(unnamed) == 12 and all(x > 0 for x in unnamed)
        assert sorted({s["batch"] for s in data["samples"] if s["scenario"] == sc and s["arm"] == "unnamed"}) == [
            0,
            1,
            2,
        ]
        setup = [c for c in data["checks"] if c["scenario"] == sc and c["check"] == "setup"]
        assert setup and all(c["vmas_created"] == 1024 and c["vmas_ok"] for c in setup)
        named = [x for s in data["samples"] if s["scenario"] == sc and s["arm"] == "named" for x in s["fork_ns"]]
        if kernel_has_anon_vma_name():
            assert len(named) == 12 and res.returncode == 0
        else:
            assert named == []
            kinds = [e["kind"] for e in data["errors"] if e["scenario"] == sc and e["arm"] == "named"]
            assert kinds == ["kernel-lacks-anon-vma-name"]
            assert res.returncode == 1
    assert (run_dir / "report.html").read_text().count("unpopulated") >= 1
    assert "unnamed VMAs" in res.stdout


def test_report_rerenders_from_results_alone(tmp_path, devbench_cmd):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.replace("OUT", str(tmp_path / "out")).replace("MODE", "interleaved"))
    subprocess.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, timeout=300)
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    (run_dir / "report.html").unlink()
    res = subprocess.run([*devbench_cmd, "report", str(run_dir)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and (run_dir / "report.html").exists()
    md = subprocess.run(
        [*devbench_cmd, "report", str(run_dir), "--format", "markdown"], capture_output=True, text=True, timeout=60
    )
    assert md.returncode == 0 and "| unpopulated |" in md.stdout
