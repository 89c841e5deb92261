"""The LAVA device script's preparation and restore, run under dash on this machine: the cpufreq
lock on a stand-in sysfs tree (a phone-shaped cpufreq folder in tmp_path), the framework stop
and start with stand-in `getprop`/`stop`/`start` (Android-only commands no lab device has), and
what the log parser makes of it. A device without cpufreq or without getprop gets warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devbench.lava.logparse import parse_log
from devbench.lava.testdef import MAIN_SCRIPT, WORKDIR_FILE, device_scripts

pytestmark = [pytest.mark.lava, pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")]

POLICIES = {"policy0": "0 1", "policy2": "2 3"}
STANDIN_PROPS = """#!/bin/sh
# stand-in getprop/stop/start: properties are files in $DEVBENCH_STANDIN_PROPS
d=$DEVBENCH_STANDIN_PROPS
case ${0##*/} in
    getprop) cat "$d/$1" 2>/dev/null ;;
    stop) echo stopped >"$d/init.svc.zygote"; echo 0 >"$d/sys.boot_completed" ;;
    start) echo running >"$d/init.svc.zygote"; echo 1 >"$d/sys.boot_completed" ;;
esac
"""


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    sysfs, procfs = tmp_path / "sys", tmp_path / "proc"
    for name, cpus in POLICIES.items():
        p = sysfs / "devices/system/cpu/cpufreq" / name
        p.mkdir(parents=True)
        for f, v in (
            ("scaling_governor", "schedutil"),
            ("scaling_min_freq", "300000"),
            ("scaling_max_freq", "1804800"),
            ("scaling_available_frequencies", "300000 1000000 1804800 "),
            ("related_cpus", cpus),
            ("cpuinfo_min_freq", "300000"),
            ("cpuinfo_max_freq", "1804800"),
            ("scaling_setspeed", "<unsupported>"),
        ):
            (p / f).write_text(v + "\n")
    (procfs / "sys/vm").mkdir(parents=True)
    (procfs / "sys/vm/max_map_count").write_text("65530\n")
    return sysfs, procfs


def _script(tmp_path: Path) -> Path:
    d = tmp_path / "testdef"
    d.mkdir()
    for name, text in device_scripts().items():
        (d / name).write_text(text)
    return d / MAIN_SCRIPT


def _android(tmp_path: Path) -> dict[str, str]:
    bin_dir, props = tmp_path / "standin-bin", tmp_path / "props"
    bin_dir.mkdir()
    props.mkdir()
    for name in ("getprop", "stop", "start"):
        (bin_dir / name).write_text(STANDIN_PROPS)
        (bin_dir / name).chmod(0o755)
    for k, v in (("ro.build.version.sdk", "34"), ("init.svc.zygote", "running"), ("sys.boot_completed", "1")):
        (props / k).write_text(v + "\n")
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DEVBENCH_STANDIN_PROPS": str(props)}


def _sh(script: Path, args: list[str], env: dict[str, str]) -> list[str]:
    r = subprocess.run(["dash", str(script), *args], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _log(lines: list[str]):  # as LAVA keeps the console: lvl target, one line each
    return parse_log([{"dt": "2026-12-05T10:00:00", "lvl": "target", "msg": ln} for ln in lines])


def test_cpufreq_and_framework_are_set_read_back_and_restored(tmp_path: Path) -> None:
    sysfs, procfs = _tree(tmp_path)
    script, env, wd = _script(tmp_path), _android(tmp_path), tmp_path / "wd"
    out = _sh(script, ["start", str(wd), "/nonexistent/forkbench", "70000", str(sysfs), str(procfs), "{}",
                       "performance/0.5/2,3", "1"], env)
    pol = sysfs / "devices/system/cpu/cpufreq"
    # 0.5 of the highest (902400 kHz): the nearest available is 1000000; only CPUs 2-3's policy
    assert [
        (pol / "policy2" / f).read_text().strip() for f in ("scaling_governor", "scaling_min_freq", "scaling_max_freq")
    ] == ["performance", "1000000", "1000000"]
    assert (pol / "policy0/scaling_governor").read_text().strip() == "schedutil"
    assert (tmp_path / "props/init.svc.zygote").read_text().strip() == "stopped"
    log = _log(out + _sh(script, ["finish", str(wd), str(procfs), str(sysfs)], env))
    changes = {c["setting"]: c for c in log.changes}
    assert set(changes) == {"framework", "cpufreq.policy2.scaling_governor", "cpufreq.policy2.scaling_min_freq",
                            "cpufreq.policy2.scaling_max_freq", "vm.max_map_count"}
    assert all(c["verified"] is True for c in changes.values()), changes
    assert changes["cpufreq.policy2.scaling_min_freq"]["before"] == 300000
    assert "nearest available of 300000 1000000 1804800" in changes["cpufreq.policy2.scaling_max_freq"]["why"]
    assert {r["setting"]: r["restored"] for r in log.restores} == dict.fromkeys(changes, True)
    files = ("scaling_governor", "scaling_min_freq", "scaling_max_freq")
    assert [(pol / "policy2" / f).read_text().strip() for f in files] == ["schedutil", "300000", "1804800"]
    assert (tmp_path / "props/sys.boot_completed").read_text().strip() == "1"
    assert log.warnings == [
        "the payload /nonexistent/forkbench is missing or not executable",
        "lava-test-case is not on PATH (not inside a LAVA test shell): devbench-restore --result pass",
    ]
    # the private folder (wd.XXXXXX, not wd) is removed with the saved state, and its record
    assert not wd.exists() and list(tmp_path.glob("wd.*")) == [] and not (script.parent / WORKDIR_FILE).exists()


def test_a_device_without_cpufreq_or_android_says_so(tmp_path: Path) -> None:
    sysfs, procfs = tmp_path / "bare-sys", tmp_path / "proc"
    sysfs.mkdir()
    (procfs / "sys/vm").mkdir(parents=True)
    (procfs / "sys/vm/max_map_count").write_text("65530\n")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no getprop
    script, wd = _script(tmp_path), tmp_path / "wd"
    out = _sh(
        script,
        ["start", str(wd), "/nonexistent/forkbench", "0", str(sysfs), str(procfs), "{}", "performance/max/-", "1"],
        env,
    )
    log = _log(out + _sh(script, ["finish", str(wd), str(procfs), str(sysfs)], env))
    assert log.changes == [] and log.restores == []
    assert "cpufreq not available: frequency not locked" in log.warnings
    assert any(w.startswith("framework still running: not an Android device") for w in log.warnings)
