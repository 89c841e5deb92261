"""Hostile data (issue 8, item 6): strings devbench does not control never run as commands,
on the host or on the device, and paths never lead outside the run folder or the work folder.

Device strings: the real lab device answers through STAND-INS (tests/standins/android_device.py:
getprop, setprop, stop, start, a phone-shaped sysfs/procfs tree) and a stand-in `uname`, all
installed inside the device and reached only through devbench's real adb and SSH transports.
Their answers carry shell metacharacters, quotes, newlines, `$(...)`, backticks and `;`, each
one a command that would create a canary file if anything evaluated it. After a full
`devbench run` and `devbench report` no canary exists, on the device (checked over adb) or on
the host; the HTML shows the strings escaped; and a device string cannot add facts of its
own (a property with a newline does not change the probed machine).

Config values that reach a device (work folders, sysfs/procfs roots, names) are refused when
they are not plain: tested through `devbench run`, which must stop before any device.
Run and profile folder names made from target and scenario names stay inside the run folder.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path

import pytest

from tests.lab import lines, runs
from tests.standins import android_device as standin

TREE = "/data/local/tmp/hostile-tree"
BIN = "/usr/local/bin"
CANARY_DIR = "/tmp"
CANARY = "devbench-pwned"


def canary(tag: str) -> str:
    return f"{CANARY_DIR}/{CANARY}-{tag}"


# Property -> what the stand-in getprop answers. Every {c} is a canary path: the string runs
# `touch` on it if any shell evaluates it (as command text, in "...", in `...`, after ;, |, &).
HOSTILE_PROPS = {
    "ro.product.model": "$(touch {c}) <script>alert('model')</script> & touch {c}2",
    "ro.build.fingerprint": "'; touch {c}; '",
    "ro.build.type": '"; touch {c}; "`touch {c}2`',
    "ro.debuggable": "`touch {c}` | touch {c}2 ; touch {c}3",
    "ro.product.cpu.abi": "x86_64;touch {c}",
    "ro.kernel.qemu": "$(touch${{IFS}}{c}) && touch {c}2 || touch {c}3",
    # a newline, and dash's echo escapes: each would make a line (a fact) of its own
    "ro.boot.qemu": "0\nmachine=riscv64\nuid=1000\n$(touch {c})",
}
# Stand-in uname: -m passes through (the payload must still be built for this machine).
UNAME_R = "6.1.0-$(touch {c})-`touch {c}2`"
UNAME_V = "SMP <b>bold</b>x; touch {c} \\nmachine=aarch64"
UNAME = """#!/bin/sh
# devbench test stand-in: a kernel whose release and version strings are hostile
case "$1" in
  -r) printf '%s\\n' '{r}' ;;
  -v) printf '%s\\n' '{v}' ;;
  *) exec /usr/bin/uname "$@" ;;
esac
"""
# sysfs values devbench reads, records, and writes back on restore
HOSTILE_SYSFS = {
    "sys/devices/system/cpu/cpufreq/policy0/scaling_governor": "$(touch {c})",
    "sys/class/thermal/thermal_zone0/type": "cpu<script>x</script>`touch {c}`",
}


def hostile_strings(transport: str) -> dict[str, str]:
    """name -> hostile string, its canaries named after the transport and the source."""
    out = {}
    for prop, text in HOSTILE_PROPS.items():
        out[f"prop {prop}"] = text.format(c=canary(f"{transport}-{prop}"))
    out["uname -r"] = UNAME_R.format(c=canary(f"{transport}-krel"))
    out["uname -v"] = UNAME_V.format(c=canary(f"{transport}-kver"))
    for path, text in HOSTILE_SYSFS.items():
        out[f"sysfs {path.rsplit('/', 2)[-2]}"] = text.format(c=canary(f"{transport}-{path.rsplit('/', 1)[-1]}"))
    return out


def canaries(strings: dict[str, str]) -> list[str]:
    return sorted({m for s in strings.values() for m in re.findall(rf"{CANARY_DIR}/{CANARY}-[A-Za-z0-9._-]+", s)})


def device_canaries(target) -> list[str]:
    res = target.run(
        ["sh", "-c", 'for f in "$1"/"$2"*; do [ -e "$f" ] && echo "$f"; done; true', "sh", CANARY_DIR, CANARY],
        timeout=30,
    )
    assert res.ok, res.stderr
    return res.stdout.split()


def host_canaries() -> list[str]:
    return sorted(str(p) for p in Path(CANARY_DIR).glob(f"{CANARY}*"))


def clear_canaries(target) -> None:
    target.run(["sh", "-c", 'rm -f "$1"/"$2"*', "sh", CANARY_DIR, CANARY], timeout=30)
    for p in host_canaries():
        os.unlink(p)


# The contexts an injection would need: the string as command text, inside "...", inside '...'.
CONTEXTS = ("echo {s}", 'echo "{s}"', "echo '{s}'")


@pytest.mark.lab
def test_the_canaries_work(tmp_path, adb_target):
    """Positive control: each hostile string, put into a shell command line, creates one of its
    canaries, on the device and on the host. So an absent canary below means nothing evaluated
    the string. (Run in scratch folders: some strings also hold redirections.)"""
    strings = hostile_strings("control")
    clear_canaries(adb_target)
    scratch = "/tmp/devbench-hostile-scratch"
    adb_target.run(["mkdir", "-p", scratch], timeout=30)
    try:
        for text in strings.values():
            for ctx in CONTEXTS:
                line = 'cd "$1" && ' + ctx.format(s=text)
                adb_target.run(["sh", "-c", line, "sh", scratch], timeout=30)
                subprocess.run(["sh", "-c", line, "sh", str(tmp_path)], capture_output=True, timeout=30)
        on_device, on_host = set(device_canaries(adb_target)), set(host_canaries())
        for name, text in strings.items():
            mine = set(canaries({name: text}))
            assert mine & on_device and mine & on_host, f"{name}: {text!r} would go unnoticed"
    finally:
        clear_canaries(adb_target)
        adb_target.run(["rm", "-rf", scratch], timeout=30)


@pytest.fixture
def hostile_device(tmp_path, adb_target):
    """The stand-in phone in the lab device, every device string hostile; removed afterwards."""
    def install(transport: str) -> dict[str, str]:
        strings = hostile_strings(transport)
        files = standin.tree_files()
        for path, _text in HOSTILE_SYSFS.items():
            files[path] = strings[f"sysfs {path.rsplit('/', 2)[-2]}"]
        standin.lay_out(adb_target, TREE, files)
        props = dict(standin.PROPS)
        props.update({p: strings[f"prop {p}"] for p in HOSTILE_PROPS})
        standin.install(adb_target, BIN, props)
        uname = tmp_path / "uname"
        uname.write_text(UNAME.format(r=strings["uname -r"], v=strings["uname -v"]))
        adb_target.push(uname, f"{BIN}/uname", 0o755)
        for workdir in ("/data/local/tmp/devbench", "/tmp/devbench"):
            adb_target.run(["rm", "-f", f"{workdir}/restore-journal.json"], timeout=30)
        clear_canaries(adb_target)
        return strings

    yield install
    standin.uninstall(adb_target, BIN)
    adb_target.run(["rm", "-rf", TREE, f"{BIN}/uname"], timeout=30)
    clear_canaries(adb_target)


def run_config(tmp_path: Path, target_line: str) -> Path:
    cfg = tmp_path / "hostile.yaml"
    cfg.write_text(f"""\
run: {{name: hostile, output: {tmp_path / 'out'}}}
targets:
  - {target_line}
device:
  stop_framework: true
  cpufreq: {{governor: performance, khz: max, cpus: [0]}}
  sysfs: {TREE}/sys
  procfs: {TREE}/proc
benchmark:
  vmas: 256
  forks: 12
  warmup: 1
  batches: 2
  scenarios:
    - {{name: unpopulated, pages: 0}}
""")
    return cfg


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["adb", "ssh"])
def test_hostile_device_strings_run_nothing_and_are_escaped(tmp_path, devbench_cmd, adb_server, adb_device_serial,
                                                            ssh_device, adb_target, hostile_device, transport, capsys):
    strings = hostile_device(transport)
    before = standin.read_tree(adb_target, TREE)
    s = ssh_device
    line = (lines.adb_line("phone", adb_device_serial, adb_server.port) if transport == "adb" else
            lines.ssh_line("phone", s))
    res = runs.run(
        [*devbench_cmd, "run", str(run_config(tmp_path, line)), "--quiet"], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    for fmt in ("html", "text", "markdown", "json", "csv"):
        rep = runs.run(
            [*devbench_cmd, "report", str(run_dir), "--format", fmt], capture_output=True, text=True, timeout=120
        )
        assert rep.returncode == 0 and "Traceback" not in rep.stderr, rep.stderr

    checked = canaries(strings)
    assert device_canaries(adb_target) == [] and host_canaries() == [], "a hostile string was executed"

    data = json.loads((run_dir / "results.json").read_text())
    [t] = data["targets"]
    facts = t["facts"]
    # kept as data, byte for byte (a property up to its first newline)
    assert facts["model"] == strings["prop ro.product.model"]
    assert facts["props"]["ro.build.fingerprint"] == strings["prop ro.build.fingerprint"]
    assert facts["props"]["ro.boot.qemu"] == "0"
    assert facts["kernel_release"] == strings["uname -r"] and facts["kernel_build"] == strings["uname -v"]
    # ... and they add no facts of their own
    assert facts["machine"] == platform.machine() and facts["uid"] == 0 and facts["emulator"] is False
    assert len([x for s in data["samples"] if s["arm"] == "unnamed" for x in s["fork_ns"]]) == 12  # the run ran
    # a hostile governor is no governor's name: a journal could not put it back (issue 16), so
    # devbench leaves it unchanged and says so; whatever it did change was written back exactly
    changes = {c["setting"]: c for c in t["device_changes"]}
    assert "policy0 scaling_governor" not in changes
    assert [
        w
        for w in t["warnings"]
        if w.startswith("policy0 scaling_governor left unchanged: ") and "is not of its shape" in w
    ]
    assert all(c["restored"] for c in t["device_changes"])
    assert standin.read_tree(adb_target, TREE) == before

    html = (run_dir / "report.html").read_text()
    assert "<script>alert('model')</script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;model&#39;)&lt;/script&gt;" in html
    assert "cpu<script>" not in html
    with capsys.disabled():
        print(f"\n[hostile] {transport}: {len(strings)} hostile device strings, {len(checked)} canaries "
              f"checked on the device and on the host: none created")


# -- config values that reach a device ------------------------------------------------------------

REFUSED = [
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/local/tmp/../../../etc"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/x;reboot"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/$(reboot)"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/`reboot`"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/x\\nreboot"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "data/local/tmp"}}'),
    ("targets[0].adb.workdir", '{name: p, adb: {serial: x, workdir: "/data/x y"}}'),
    ("targets[0].ssh.workdir", '{name: p, ssh: {host: 192.0.2.1, workdir: "/tmp/.."}}'),
    ("targets[0].ssh.workdir", "{name: p, ssh: {host: 192.0.2.1, workdir: \"/tmp/'; reboot; '\"}}"),
    ("targets[0].local.workdir", '{name: p, local: {workdir: "../outside"}}'),
    ("targets[0].local.workdir", '{name: p, local: {workdir: "/tmp/a;rm -rf ~"}}'),
    ("targets[0].qemu.workdir", '{name: p, qemu: {arch: x86_64, workdir: "/data/../etc"}}'),
    ("targets[0].qemu.append", '{name: p, qemu: {arch: x86_64, append: "init=/bin/sh; reboot"}}'),
    ("targets[0].emulator.avd", '{name: p, emulator: {avd: "x; reboot"}}'),
    ("targets[0].name", '{name: "../../etc", local: {}}'),
    ("targets[0].name", '{name: "a/b", local: {}}'),
    ("targets[0].name", '{name: "$(reboot)", local: {}}'),
    ("targets[0].name", '{name: "a\\n", local: {}}'),
    ("targets[0].name", '{name: ".hidden", local: {}}'),
]
REFUSED_ELSEWHERE = [
    ("device.sysfs", "device: {sysfs: /sys/../etc/sys}"),
    ("device.sysfs", "device: {sysfs: /x;y/sys}"),
    ("device.procfs", "device: {procfs: relative/proc}"),
    ("device.cpufreq.governor", "device: {cpufreq: {governor: 'performance; reboot'}}"),
    ("run.name", "run: {name: ../../etc}"),
    ("run.name", "run: {name: 'x/y'}"),
    ("benchmark.scenarios[0].name", "SCENARIO: {name: '../x', pages: 0}"),
    ("benchmark.scenarios[0].name", "SCENARIO: {name: '$(reboot)', pages: 0}"),
    ("benchmark.scenarios[0].name", "SCENARIO: {name: 'a;b', pages: 0}"),
    ("profile.event", "profile: {event: 'cpu-clock; reboot'}"),
]


@pytest.mark.parametrize("field,target", REFUSED)
def test_config_values_that_reach_a_device_are_refused(tmp_path, devbench_cmd, field, target):
    check_refused(
        tmp_path, devbench_cmd, field, f"targets: [{target}]\nbenchmark: {{scenarios: [{{name: s, pages: 0}}]}}\n"
    )


@pytest.mark.parametrize("field,section", REFUSED_ELSEWHERE)
def test_config_paths_and_names_are_refused(tmp_path, devbench_cmd, field, section):
    if section.startswith("SCENARIO:"):
        text = f"targets: [{{name: p, local: {{}}}}]\nbenchmark: {{scenarios: [{section.split(':', 1)[1].strip()}]}}\n"
    else:
        text = f"targets: [{{name: p, local: {{}}}}]\nbenchmark: {{scenarios: [{{name: s, pages: 0}}]}}\n{section}\n"
    check_refused(tmp_path, devbench_cmd, field, text)


def check_refused(tmp_path: Path, devbench_cmd, field: str, text: str) -> None:
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    res = runs.run([*devbench_cmd, "run", str(cfg), "--output", str(out)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith(f"devbench: {cfg}:") and f": {field}: " in line, line
    assert not out.exists()  # refused before anything was written or reached


# -- folders named after targets and scenarios ----------------------------------------------------

HOSTILE_NAMES = ["../../etc", "..", ".", "/", "a/../../b", "/etc/passwd", "x\0y", "a\nb", "~root", "$(reboot)",
                 "1 .. .", "..hidden", "a" * 300, "名前/../x", "-rf", ""]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_run_and_profile_folder_names_stay_inside(tmp_path, name):
    from devbench.profile.runs import safe_name
    from devbench.run.runner import make_run_id

    assert len(make_run_id(name)) <= 80  # a folder name, whatever the run's name (lava-results takes it from LAVA)
    for made in (make_run_id(name), safe_name(name[:64])):  # config names are at most 64 characters
        assert "/" not in made and "\0" not in made and made not in (".", "..") and not made.startswith(".")
        assert made.isprintable()
        assert (tmp_path / made).resolve().parent == tmp_path.resolve()


@pytest.mark.lab
def test_names_at_the_edge_write_only_into_the_run_and_work_folders(tmp_path, devbench_cmd, ssh_device, adb_target):
    """The most dots and spaces the config allows in names, with profiling on (it writes files
    named after the target and scenario): every new file on the host is inside the run folder,
    every new file on the device inside the work folder."""
    workdir = "/tmp/devbench-hostile-names"
    scan = ["/tmp", "/data/local/tmp", "/root", "/var/tmp"]
    listing = ["sh", "-c", 'find "$@" -xdev \\( -type f -o -type l \\) 2>/dev/null | sort', "sh", *scan]
    adb_target.run(["rm", "-rf", workdir], timeout=30)
    device_before = set(adb_target.run(listing, timeout=60).stdout.splitlines())
    out = tmp_path / "out"
    s = ssh_device
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(f"""\
run: {{name: "1.. ..", output: {out}}}
targets:
  - {{name: "a.. . -", ssh: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {s.key}, known_hosts: {s.known_hosts}, workdir: {workdir}}}}}
profile: {{enabled: true, forks: 4, batches: 1}}
benchmark:
  vmas: 256
  forks: 4
  warmup: 0
  batches: 1
  scenarios:
    - {{name: "0.. ..", pages: 0}}
""")  # noqa: E501 (data, kept as it is)
    host_before = {p for p in tmp_path.rglob("*")}
    res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in out.iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    assert data["profiles"], data["targets"][0]["warnings"]  # the profile files were written
    new_host = {p for p in tmp_path.rglob("*")} - host_before - {out, out / "latest"}  # latest: the link to the run
    outside = [p for p in new_host if run_dir not in (p, *p.parents)]
    assert outside == [], outside
    assert any(p.name.endswith(".folded") for p in new_host)
    new_device = set(adb_target.run(listing, timeout=60).stdout.splitlines()) - device_before
    outside = sorted(p for p in new_device if not p.startswith(workdir + "/"))
    assert outside == [], outside
    adb_target.run(["rm", "-rf", workdir], timeout=30)
