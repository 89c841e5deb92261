"""Issue 24 item 6: the LAVA device script works in a fresh private folder, never in a fixed one.

The real script (devbench/lava/sh/devbench-lava.sh) runs under dash and under busybox sh with
only busybox's applets on PATH (mktemp, ls, id, sha256sum, wget as on a small device), against a
stand-in sysfs/procfs tree in tmp_path. Hostile cases: the configured work folder planted
beforehand (a link to a folder outside, or a folder holding a `cpufreq.before` whose names lead
outside), a recorded work folder that is not private, names in `cpufreq.before` that are not
policy names, and a payload swapped after the install steps checked it. Canaries outside every
folder the script should write must stay as they were.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from devbench.config import load_config
from devbench.lava.job import build_job
from devbench.lava.options import options_from_mapping
from devbench.lava.testdef import WORKDIR_FILE
from tests.lava import fakelava
from tests.unit.lava.test_lava_prepare import _script, _tree

pytestmark = [pytest.mark.lava]

SHELLS = ["dash", "busybox"]
POLICY = "devices/system/cpu/cpufreq/policy2"


@pytest.fixture
def shell(request, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """(argv to run a script, environment): dash with this machine's tools, or busybox sh with
    only busybox's applets on PATH."""
    if request.param == "dash":
        if shutil.which("dash") is None:
            pytest.skip("needs dash")
        return ["dash"], {**os.environ, "PATH": "/usr/bin:/bin"}
    if shutil.which("busybox") is None:
        pytest.skip("needs busybox")
    bb = tmp_path / "busybox-bin"
    bb.mkdir()
    subprocess.run(["busybox", "--install", "-s", str(bb)], check=True)
    return [str(bb / "sh")], {"PATH": str(bb), "HOME": str(tmp_path)}


def _run(shell: tuple[list[str], dict[str, str]], script: Path, *args: str) -> list[str]:
    argv, env = shell
    r = subprocess.run([*argv, str(script), *args], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): ("<link>" if p.is_symlink() else "<dir>" if p.is_dir() else p.read_text())
            for p in sorted(folder.rglob("*"))}


def _outside(tmp_path: Path) -> Path:
    """A folder outside every folder the script may write, with canaries (one shaped like a policy)."""
    out = tmp_path / "outside"
    (out / "evil").mkdir(parents=True)
    for name in ("canary", "evil/scaling_governor", "evil/scaling_min_freq", "evil/scaling_max_freq"):
        (out / name).write_text("canary\n")
    return out


def _policy(sysfs: Path) -> list[str]:
    return [
        (sysfs / POLICY / f).read_text().strip() for f in ("scaling_governor", "scaling_min_freq", "scaling_max_freq")
    ]


# from sysfs/devices/system/cpu/cpufreq/NAME, five levels up is tmp_path
HOSTILE_NAME = "../../../../../outside/evil"


@pytest.mark.parametrize("shell", SHELLS, indirect=True)
@pytest.mark.parametrize("planted", ["link", "folder"])
def test_a_planted_work_folder_is_never_used(tmp_path: Path, shell, planted: str) -> None:
    sysfs, procfs = _tree(tmp_path)
    outside = _outside(tmp_path)
    wd = tmp_path / "wd"  # the configured work folder (/tmp/devbench by default), made by someone else first
    if planted == "link":
        wd.symlink_to(outside)
    else:
        wd.mkdir()
        wd.chmod(0o777)
        (wd / "cpufreq.before").write_text(f"{HOSTILE_NAME} performance 1 2\n")
        (wd / "max_map_count.before").write_text("1\n")
    before = _snapshot(outside)
    script = _script(tmp_path)
    out = _run(shell, script, "start", str(wd), "/nonexistent/forkbench", "70000", str(sysfs), str(procfs), "{}",
               "performance/max/2,3", "0")
    assert _snapshot(outside) == before  # nothing written into the planted folder during the run
    assert _policy(sysfs) == ["performance", "1804800", "1804800"]
    assert any(line.startswith("DEVBENCH-CHANGE ") for line in out)
    privates = [(p, p.is_symlink(), p.stat().st_mode & 0o777, (p / "cpufreq.before").read_text())
                for p in tmp_path.glob("wd.*")]
    out += _run(shell, script, "finish", str(wd), str(procfs), str(sysfs))
    assert _snapshot(outside) == before
    [(private, link, mode, saved)] = privates  # a fresh one: mktemp -d WORKDIR.XXXXXX
    assert not link and mode == 0o700 and saved.startswith("policy2 ")
    assert _policy(sysfs) == ["schedutil", "300000", "1804800"]  # restored from the private folder's record
    assert (procfs / "sys/vm/max_map_count").read_text().strip() == "65530"
    assert not private.exists() and not (script.parent / WORKDIR_FILE).exists()  # finish removes it


def _recorded(tmp_path: Path, kind: str) -> Path:
    d = tmp_path / "recorded"
    if kind == "link":
        (tmp_path / "real").mkdir(mode=0o700)
        d.symlink_to(tmp_path / "real")
    elif kind == "mode 0755":
        d.mkdir()
        d.chmod(0o755)
    elif kind == "another uid":
        if os.geteuid() != 0:
            pytest.skip("chown to another uid needs root")
        d.mkdir(mode=0o700)
        os.chown(d, 65534, 65534)
    elif kind == "a file":
        d.write_text("")
    elif kind == "relative":
        return Path("recorded")
    return d


@pytest.mark.parametrize("shell", SHELLS, indirect=True)
@pytest.mark.parametrize("kind", ["link", "mode 0755", "another uid", "a file", "relative"])
def test_a_recorded_folder_that_is_not_private_is_refused(tmp_path: Path, shell, kind: str) -> None:
    sysfs, procfs = _tree(tmp_path)
    script = _script(tmp_path)
    d = _recorded(tmp_path, kind)
    (script.parent / WORKDIR_FILE).write_text(f"{d}\n")
    before = _snapshot(tmp_path / "sys"), (procfs / "sys/vm/max_map_count").read_text()
    out = _run(shell, script, "start", str(tmp_path / "wd"), "forkbench-x", "70000", str(sysfs), str(procfs), "{}",
               "performance/max/-", "0")
    out += _run(shell, script, "scenario", str(tmp_path / "wd"), "forkbench-x", "0", "s", "both", "4", "60", "-", "--",
                "--pages", "0")
    out += _run(shell, script, "finish", str(tmp_path / "wd"), str(procfs), str(sysfs))
    refusals = [line for line in out if line.startswith("DEVBENCH-WARN work folder refused: ")]
    assert len(refusals) == 3, out
    assert not any(line.startswith(("DEVBENCH-CHANGE", "DEVBENCH-BEGIN", "DEVBENCH-RESTORE")) for line in out)
    assert (_snapshot(tmp_path / "sys"), (procfs / "sys/vm/max_map_count").read_text()) == before
    if kind not in ("relative", "a file"):
        assert list(Path(d).iterdir()) == []  # nothing written there


@pytest.mark.parametrize("shell", SHELLS, indirect=True)
def test_names_read_back_from_cpufreq_before_are_checked(tmp_path: Path, shell) -> None:
    sysfs, procfs = _tree(tmp_path)
    outside = _outside(tmp_path)
    before = _snapshot(outside)
    script = _script(tmp_path)
    wd = tmp_path / "wd"
    out = _run(shell, script, "start", str(wd), "/nonexistent/forkbench", "0", str(sysfs), str(procfs), "{}",
               "performance/max/2,3", "0")
    [private] = list(tmp_path.glob("wd.*"))
    with open(private / "cpufreq.before", "a") as fh:  # as if it could be written by anyone else
        fh.write(f"{HOSTILE_NAME} performance 1 2\n")
        fh.write(f"policy0/{HOSTILE_NAME} performance 1 2\n")
        fh.write("policy performance 1 2\n")
        fh.write("policy0 $(touch) 1 2\n")
        fh.write("policy0 performance 1;2 3\n")
    out += _run(shell, script, "finish", str(wd), str(procfs), str(sysfs))
    assert _snapshot(outside) == before
    warns = [line for line in out if line.startswith("DEVBENCH-WARN cpufreq.before: ")]
    assert len(warns) == 5, out
    assert _policy(sysfs) == ["schedutil", "300000", "1804800"]  # the real line is still restored
    assert (sysfs / "devices/system/cpu/cpufreq/policy0/scaling_min_freq").read_text().strip() == "300000"


GOOD = """#!/bin/sh
# a stand-in payload: says it ran (the real one prints JSON Lines)
echo ran >"$(dirname "$0")/../ran-good"
echo '{"event":"start"}'
"""
EVIL = """#!/bin/sh
echo pwned >{canary}
"""
CONFIG = """\
run: {name: swapped}
targets: [{name: here, local: {}}]
device: {procfs: PROCFS, sysfs: /nonexistent/sys}
benchmark:
  vmas: 64
  forks: 2
  batches: 1
  warmup: 0
  scenarios:
    - {name: unpopulated, pages: 0}
"""


@pytest.fixture
def http_root(tmp_path: Path):
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


@pytest.mark.parametrize("shell", SHELLS, indirect=True)
def test_a_payload_swapped_after_the_install_check_is_not_run(tmp_path: Path, shell, http_root, monkeypatch) -> None:
    for k in list(os.environ):
        if "proxy" in k.lower():
            monkeypatch.delenv(k)
    argv, env = shell
    if argv != ["dash"]:
        monkeypatch.setenv("PATH", env["PATH"])
    root, base = http_root
    (root / "forkbench").write_text(GOOD)
    sha = hashlib.sha256(GOOD.encode()).hexdigest()
    canary = tmp_path / "outside" / "canary"
    canary.parent.mkdir()
    evil = tmp_path / "evil"
    evil.write_text(EVIL.format(canary=canary))
    evil.chmod(0o755)
    proc = tmp_path / "proc"
    (proc / "sys/vm").mkdir(parents=True)
    (proc / "sys/vm/max_map_count").write_text("65530\n")
    (tmp_path / "c.yaml").write_text(CONFIG.replace("PROCFS", str(proc)))
    wd = tmp_path / "wd"
    opts = options_from_mapping({"device_type": "qemu", "target": "t", "workdir": str(wd),
                                 "payload": {"url": f"{base}/forkbench", "sha256": sha},
                                 "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
    testdef = build_job(load_config(tmp_path / "c.yaml"), opts).testdef
    steps = testdef["run"]["steps"]
    start = next(i for i, s in enumerate(steps) if " start " in s.split("\n")[0])
    # after the install steps checked it, the payload in the private folder is replaced
    steps.insert(start + 1, f'cp {evil} "$(cat {WORKDIR_FILE} 2>/dev/null || echo {wd})/forkbench-{sha[:12]}"')
    folder = tmp_path / "lava" / "tests" / "0_devbench"
    run = fakelava.run_test_shell(testdef, folder, shell=argv[0])
    assert run.install_rc == 0 and run.run_rc == 0, "\n".join(run.console[-30:])
    assert not canary.exists()  # the swapped payload never ran
    ends = [line for line in run.console if line.startswith("DEVBENCH-END ")]
    assert ends == ["DEVBENCH-END 0 126 0"], run.console
    assert any(line.startswith("DEVBENCH-STDERR 0 devbench: ") and "does not match its checksum" in line
               for line in run.console), run.console
    assert list(tmp_path.glob("wd*")) == []  # finish removed the private folder


@pytest.mark.parametrize("shell", SHELLS, indirect=True)
def test_the_unswapped_payload_runs_after_its_check(tmp_path: Path, shell, http_root, monkeypatch) -> None:
    for k in list(os.environ):
        if "proxy" in k.lower():
            monkeypatch.delenv(k)
    argv, env = shell
    if argv != ["dash"]:
        monkeypatch.setenv("PATH", env["PATH"])
    root, base = http_root
    (root / "forkbench").write_text(GOOD)
    sha = hashlib.sha256(GOOD.encode()).hexdigest()
    proc = tmp_path / "proc"
    (proc / "sys/vm").mkdir(parents=True)
    (proc / "sys/vm/max_map_count").write_text("65530\n")
    (tmp_path / "c.yaml").write_text(CONFIG.replace("PROCFS", str(proc)))
    opts = options_from_mapping({"device_type": "qemu", "target": "t", "workdir": str(tmp_path / "wd"),
                                 "payload": {"url": f"{base}/forkbench", "sha256": sha},
                                 "qemu": {"arch": "amd64", "rootfs_url": "https://images.example.org/r.img"}})
    testdef = build_job(load_config(tmp_path / "c.yaml"), opts).testdef
    run = fakelava.run_test_shell(testdef, tmp_path / "lava" / "tests" / "0_devbench", shell=argv[0])
    assert run.install_rc == 0 and run.run_rc == 0, "\n".join(run.console[-30:])
    assert [line for line in run.console if line.startswith("DEVBENCH-END ")] == ["DEVBENCH-END 0 0 1"], run.console
    assert (tmp_path / "ran-good").read_text() == "ran\n"
