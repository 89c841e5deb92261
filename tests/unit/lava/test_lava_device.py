"""The device side of devbench's LAVA test definition, run on this machine with the real payload.

The payload is built with devbench.payload.build.build("x86_64", BuildConfig()) and served over HTTP
on loopback, so the install steps really fetch it (wget) and check its sha256; the run steps
then run under dash as LAVA's run.sh (tests/lava/fakelava), with a stand-in lava-test-case that
records its arguments. The measurements it got must be the means of the samples that the log
gives back. This machine's kernel may lack CONFIG_ANON_VMA_NAME: then the named arm is a skip.
"""

from __future__ import annotations

import functools
import http.server
import math
import os
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

from devbench.config import BuildConfig, load_config
from devbench.lava import lava_results
from devbench.lava.job import build_job
from devbench.lava.options import options_from_mapping
from devbench.lava.testdef import SCRIPTS_DIR
from devbench.payload.build import build
from devbench.payload.events import parse_event
from devbench.report.html import render_html
from devbench.report.table import render_text
from tests.lava import fakelava

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
        reason="runs the x86_64 payload on this machine",
    ),
]

CONFIG = """\
run: {{name: lava-device}}
targets: [{{name: here, local: {{}}}}]
device: {{procfs: {procfs}, sysfs: /sys, pin: [0]}}
benchmark:
  vmas: 256
  forks: 24
  warmup: 2
  batches: 3
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
"""


@pytest.fixture(scope="module")
def payload():
    return build("x86_64", BuildConfig())


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def payload_output(workdir, index):
    return (workdir / f"scenario-{index}.jsonl").read_text().splitlines()


@pytest.mark.skipif(shutil.which("dash") is None or shutil.which("wget") is None, reason="needs dash and wget")
def test_the_test_definition_runs_the_real_payload(tmp_path, payload, http_root):
    root, base = http_root
    shutil.copy(payload.path, root / "forkbench-x86_64")
    proc = tmp_path / "fake" / "proc"  # the map count is read and written here, not in this machine's /proc
    (proc / "sys" / "vm").mkdir(parents=True)
    (proc / "sys" / "vm" / "max_map_count").write_text("65530\n")
    cfg_path = tmp_path / "lava.yaml"
    cfg_path.write_text(CONFIG.format(procfs=proc))
    workdir = tmp_path / "wd"
    opts = options_from_mapping({"device_type": "qemu", "target": "this-machine", "workdir": str(workdir),
                                 "payload": {"url": f"{base}/forkbench-x86_64", "sha256": payload.sha256},
                                 "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
    testdef = build_job(load_config(cfg_path), opts).testdef
    # the payload's own output files, kept before finish removes the private work folder
    kept = tmp_path / "kept"
    testdef["run"]["steps"].insert(-1, f'cp -R "$(cat devbench.workdir)" {kept}')
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    shell = fakelava.run_test_shell(testdef, tmp_path / "lava" / "tests" / "0_devbench", env=env)
    assert shell.install_rc == 0 and shell.run_rc == 0, "\n".join(shell.console[-30:])
    assert (kept / f"forkbench-{payload.sha256[:12]}").stat().st_mode & 0o111
    assert not workdir.exists() and list(tmp_path.glob("wd.*")) == []  # a private wd.XXXXXX, removed by finish
    workdir = kept

    entries = fakelava.log_entries(shell.console)
    (tmp_path / "log.yaml").write_text(fakelava.log_text(entries))
    (tmp_path / "results.yaml").write_text(yaml.safe_dump(fakelava.export_results(entries), sort_keys=False))
    data = lava_results(tmp_path / "results.yaml", tmp_path / "log.yaml")

    named_ok = not any(e["kind"] == "kernel-lacks-anon-vma-name" for e in data["errors"])
    by_case = {c[0]: c for c in shell.cases}
    for index, (scenario, case) in enumerate((("unpopulated", "unpopulated"), ("1 page", "1_page"))):
        events = [e for e in map(parse_event, payload_output(workdir, index)) if e and e["event"] == "batch"]
        for arm in ("unnamed", "named"):
            printed = [(e["batch"], e["fork_ns"]) for e in events if e["arm"] == arm]
            restored = [
                (s["batch"], s["fork_ns"]) for s in data["samples"] if s["scenario"] == scenario and s["arm"] == arm
            ]
            assert restored == printed  # every fork time, exactly
            argv = by_case[f"{case}.{arm}"]
            if arm == "named" and not named_ok:
                assert restored == [] and argv == [f"{case}.named", "--result", "skip"]
                continue
            ns = [x for _, b in restored for x in b]
            assert len(ns) == 24 and argv[:3] == [f"{case}.{arm}", "--result", "pass"]
            assert float(argv[4]) == pytest.approx(math.fsum(ns) / len(ns) / 1e6, abs=1e-6)
    # pinned, limited with timeout
    assert data["targets"][0]["warnings"] == ["clocks not locked: device.cpufreq is not set"]
    facts = data["targets"][0]["facts"]
    assert facts["abi"] == "x86_64" and facts["kernel_release"] == os.uname().release
    assert data["targets"][0]["payload"]["sha256"] == payload.sha256
    assert render_text(data).count("unpopulated") >= 1 and "this-machine" in render_html(data)


@pytest.fixture
def mean_awk():
    return SCRIPTS_DIR / "devbench-mean.awk"


@pytest.mark.parametrize("awk", ["mawk", "gawk", "busybox"])
def test_the_mean_script_on_both_arms(tmp_path, mean_awk, awk):
    argv = {"busybox": ["busybox", "awk"]}.get(awk, [awk])
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{awk} is not installed")
    lines = fakelava.payload_lines(7, 0, forks=30, batches=3)
    lines.insert(3, '{"event":"batch","batch":9,"arm":"named","warmup":0,"forks":0,"fork_ns":[],"prep_ns":1}')
    lines.append("forkbench: a stray line")
    src = tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = subprocess.run([*argv, "-f", str(mean_awk), str(src)], capture_output=True, text=True, check=True).stdout
    got = {a: (int(n), float(m), int(xn), float(xm)) for a, n, m, xn, xm in (line.split() for line in out.splitlines())}
    for arm in ("unnamed", "named"):
        batches = [e for e in map(parse_event, lines) if e and e["event"] == "batch" and e["arm"] == arm]
        ns = [x for e in batches for x in e["fork_ns"]]
        xs = [x for e in batches for x in e.get("exit_ns", [])]
        assert got[arm][0] == len(ns) == 30
        assert got[arm][1] == pytest.approx(math.fsum(ns) / len(ns) / 1e6, abs=1e-6)
        assert got[arm][2] == len(xs) == 30  # the child's exits (exit_ns) are averaged on their own
        assert got[arm][3] == pytest.approx(math.fsum(xs) / len(xs) / 1e6, abs=1e-6)
    assert list(got) == ["unnamed", "named"]


def test_the_mean_script_without_forks(tmp_path, mean_awk):
    src = tmp_path / "out.jsonl"
    src.write_text('{"event":"start"}\n{"event":"batch","batch":0,"arm":"named","warmup":0,"forks":0,"fork_ns":[],"prep_ns":1}\n')
    out = subprocess.run(["awk", "-f", str(mean_awk), str(src)], capture_output=True, text=True, check=True).stdout
    assert out == "named 0 - 0 -\n"
    src.write_text("")
    assert (
        subprocess.run(["awk", "-f", str(mean_awk), str(src)], capture_output=True, text=True, check=True).stdout == ""
    )


def test_the_script_refuses_wrong_calls(tmp_path):
    script = SCRIPTS_DIR / "devbench-lava.sh"
    for args in ([], ["nope"], ["start", "x"], ["scenario", "a", "b", "c", "d", "e", "f", "g", "h", "no-dashes"]):
        proc = subprocess.run(["sh", str(script), *args], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith("devbench-lava.sh: ")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_posix_sh():
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", str(SCRIPTS_DIR / "devbench-lava.sh")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout
