"""Fault injection against real lab devices: adbd killed mid-run (and back), a device that
stays gone, payload processes killed or timed out, a link down, the connection cut the moment
the restore starts. Nothing measured is lost and the device is restored each time."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from devbench.config import SshOptions
from devbench.guest import procs
from devbench.guest.rootfs import ADBD_PATH
from devbench.results.store import load
from devbench.targets.ssh import SshTarget
from devlab import LabDevice
from tests.lab import lines

pytestmark = pytest.mark.lab


@pytest.fixture
def own_device(lab_rootfs):
    """A lab device of this test's own (its adbd gets killed); stopped by PID at the end."""
    with LabDevice(lab_rootfs, name="faults") as dev:
        yield dev


def ssh_of(dev) -> SshTarget:
    s = dev.ssh()
    return SshTarget(
        "fault-injector",
        SshOptions(host=s.host, port=s.port, user=s.user, key=str(s.key), known_hosts=str(s.known_hosts)),
    )


def device_pids(dev, comm: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", dev.netns], capture_output=True, text=True).stdout.split()
    pids = []
    for p in out:
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == comm:
                pids.append(int(p))
        except OSError:
            pass
    return pids


def daemon_pid(dev, comm: str) -> int:
    """The device's one daemon named ``comm``: its processes of that name whose parent is not one
    of them (adbd forks a child per service it starts, named adbd until it execs)."""
    ppid = procs._ppid_map()  # the stat parsing devbench already has
    parents = {pid: ppid[pid] for pid in device_pids(dev, comm) if pid in ppid}  # not those ended meanwhile
    daemons = [pid for pid, ppid in parents.items() if ppid not in parents]
    assert len(daemons) == 1, f"expected one {comm} daemon in {dev.netns}: {comm} processes {parents} (pid: parent)"
    return daemons[0]


def write_config(
    tmp_path: Path,
    target: str,
    *,
    forks: int,
    batches: int,
    vmas: int = 2048,
    device: str = "reconnect_timeout_s: 60",
    scenarios: str = "    - {name: unpopulated, pages: 0}\n    - {name: 1 page, pages: 1}\n",
    timeout: int = 3600,
    mode: str = "separate",
) -> Path:
    cfg = tmp_path / "faults.yaml"
    cfg.write_text(f"""\
run: {{name: faults, output: {tmp_path / 'out'}}}
targets:
  - {target}
device: {{{device}}}
benchmark:
  vmas: {vmas}
  forks: {forks}
  warmup: 1
  batches: {batches}
  mode: {mode}
  timeout_s: {timeout}
  scenarios:
{scenarios}""")
    return cfg


def wait_samples(tmp_path: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in (tmp_path / "out").glob("*/results.json") if not p.parent.is_symlink()]
        if found:
            try:
                if len(json.loads(found[0].read_text())["samples"]) >= n:
                    return
            except ValueError:
                pass
        time.sleep(0.05)
    pytest.fail(f"fewer than {n} sample records in time")


def unnamed_batches(data: dict, scenario: str) -> list[int]:
    return sorted(s["batch"] for s in data["samples"] if s["scenario"] == scenario and s["arm"] == "unnamed")


def test_adbd_killed_mid_run_reconnects_and_redoes_only_the_interrupted_batch(
    tmp_path, devbench_cmd, adb_server, own_device
):
    adb_server.connect(own_device.adb_serial)
    cfg = write_config(tmp_path, lines.adb_line("dut", own_device.adb_serial, adb_server.port, how="connect"),
                       forks=400, batches=40)
    proc = subprocess.Popen(
        [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ssh = ssh_of(own_device)
    try:
        wait_samples(tmp_path, 5)
        adbd = daemon_pid(own_device, "adbd")
        subprocess.run(["kill", "-9", str(adbd)], check=True)  # adbd dies: the connection and the payload with it
        time.sleep(3)
        res = ssh.run(["sh", "-c", 'ADBD_PORT=5555 nohup "$0" >/dev/null 2>&1 & echo $!', ADBD_PATH], timeout=30)
        assert res.stdout.strip().isdigit()  # adbd is back (it dies with the device at the end)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ssh.close()
    assert "Traceback" not in err, err
    data = load(next(p for p in (tmp_path / "out").iterdir() if not p.is_symlink()))
    [t] = data["targets"]
    [rec] = t["reconnects"]
    assert "connection lost" in rec["lost"] and rec["redo"] and rec["after_s"] < 60
    assert any(w.startswith("connection lost during ") for w in t["warnings"])
    for sc in ("unpopulated", "1 page"):
        assert unnamed_batches(data, sc) == list(range(40))  # every batch once: only the interrupted one was redone
    assert not [e for e in data["errors"] if e["kind"] not in ("kernel-lacks-anon-vma-name",)]


def test_a_device_that_stays_gone_fails_its_target_in_bounded_time(tmp_path, devbench_cmd, lab_rootfs):
    with LabDevice(lab_rootfs, name="gone") as dev:
        s = dev.ssh()
        cfg = write_config(tmp_path, lines.ssh_line("dut", s),
                           forks=400, batches=40, device="reconnect_timeout_s: 8")
        proc = subprocess.Popen(
            [*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_samples(tmp_path, 3)
            start = time.monotonic()
            dev.stop()
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 1 and "Traceback" not in err
    assert time.monotonic() - start < 90
    data = load(next(p for p in (tmp_path / "out").iterdir() if not p.is_symlink()))
    kinds = [e["kind"] for e in data["errors"] if e["kind"] != "kernel-lacks-anon-vma-name"]
    # the payload may be reported killed first (the device's processes die with it), then the device is lost
    assert kinds[-1] == "device-lost" and set(kinds) <= {"payload-killed", "device-lost"}, data["errors"]
    assert "device gone: no connection within 8 s" in data["errors"][-1]["message"]
    assert len(unnamed_batches(data, "unpopulated")) >= 3  # what was measured is kept


def test_payload_killed_or_timed_out_fails_that_scenario_and_the_others_go_on(
    tmp_path, devbench_cmd, ssh_device, lab_device
):
    s = ssh_device
    cfg = write_config(
        tmp_path,
        lines.ssh_line("dut", s),
        forks=2000,
        batches=100,
        timeout=6,
        mode="interleaved",  # one long process per scenario (separate: one per batch)
        scenarios="    - {name: killed, pages: 0}\n    - {name: slow, pages: 1}\n    - {name: quick, pages: 0}\n",
    )
    # the kill hits "killed", the time limit hits "slow" (2000 forks take longer than 6 s here) and
    # "quick" (also cut by the limit) shows that the run went on after each fault
    proc = subprocess.Popen([*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_samples(tmp_path, 2)
        victims = [
            int(p)
            for p in subprocess.run(
                ["ip", "netns", "pids", lab_device.netns], capture_output=True, text=True
            ).stdout.split()
            if Path(f"/proc/{p}/comm").exists() and Path(f"/proc/{p}/comm").read_text().startswith("forkbench")
        ]
        assert victims
        subprocess.run(["kill", "-SEGV", *map(str, victims)], check=False)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "Traceback" not in err
    data = load(next(p for p in (tmp_path / "out").iterdir() if not p.is_symlink()))
    errs = {(e["scenario"], e["kind"]) for e in data["errors"]}
    assert ("killed", "payload-killed") in errs, data["errors"]
    killed = next(e for e in data["errors"] if e["kind"] == "payload-killed")
    assert "SIGSEGV" in killed["message"] and killed["exit_code"] == 139
    slow = [e for e in data["errors"] if e["scenario"] == "slow" and e["kind"] != "kernel-lacks-anon-vma-name"]
    assert slow and "timed out after 6 s" in slow[0]["message"]
    assert unnamed_batches(data, "killed") and unnamed_batches(data, "slow")  # kept what came before the fault
    assert len(unnamed_batches(data, "quick")) in range(1, 101)  # the run went on to the next scenario


def run_with_link_cut(
    tmp_path: Path,
    devbench_cmd: list[str],
    dev: LabDevice,
    down_s: float,
    device: str = "reconnect_timeout_s: 60",
    target: str | None = None,
) -> tuple[dict, dict, str, float]:
    """A run (over SSH unless another target line is given) whose device link goes down
    (silence: no FIN, no RST) for down_s seconds after its first batches: (results, its one
    target, stderr, seconds from the cut to the end)."""
    cfg = write_config(tmp_path, target or lines.ssh_line("dut", dev.ssh()), forks=400, batches=40, device=device)
    proc = subprocess.Popen([*devbench_cmd, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_samples(tmp_path, 5)
        cut = time.monotonic()
        dev.set_link(False)
        time.sleep(down_s)
        dev.set_link(True)
        _, err = proc.communicate(timeout=400)
    finally:
        dev.set_link(True)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    data = load(next(p for p in (tmp_path / "out").iterdir() if not p.is_symlink()))
    for sc in ("unpopulated", "1 page"):
        assert unnamed_batches(data, sc) == list(range(40))  # every batch once
    assert not [e for e in data["errors"] if e["kind"] != "kernel-lacks-anon-vma-name"], data["errors"]
    [t] = data["targets"]
    return data, t, err, time.monotonic() - cut


def test_ssh_link_down_a_few_seconds_is_absorbed(tmp_path, devbench_cmd, own_device):
    """A short silence (a cable out and back in): TCP retransmits, the run goes on as if nothing
    happened; every batch exactly once, no reconnect."""
    _, t, _, _ = run_with_link_cut(tmp_path, devbench_cmd, own_device, 5)
    assert not t.get("reconnects"), t.get("reconnects")


def test_ssh_link_down_longer_than_tcp_waits_is_a_lost_connection_and_reconnected(tmp_path, devbench_cmd, own_device):
    """A long silence: no FIN, no RST, the device's processes go on. TCP_USER_TIMEOUT ends the
    connection within ~40 s (not TCP's ~15 minutes); devbench reconnects once the link is back,
    restores from the journal and redoes only the interrupted batch (every batch once)."""
    from devbench.targets.ssh import KEEPALIVE_S, USER_TIMEOUT_S

    down_s = KEEPALIVE_S + USER_TIMEOUT_S + 15
    _, t, _, total = run_with_link_cut(tmp_path, devbench_cmd, own_device, down_s, device="reconnect_timeout_s: 150")
    [rec] = t["reconnects"]
    assert "connection lost" in rec["lost"].lower() and rec["redo"], rec
    assert any(w.startswith("connection lost during ") for w in t["warnings"])
    print(f"[faults] link down {down_s} s: lost and reconnected ({rec}); run over {total:.0f} s after the cut")


def test_adb_link_down_a_minute_is_survived_with_every_batch_once(tmp_path, devbench_cmd, adb_server, own_device):
    """A minute of silence under adb (longer than SSH's 40 s dead-link limit). What the adb
    server does varies from run to run: here TCP retransmitted and the shell stream resumed (no
    reconnect); on CI the adb server closed the transport during the silence. Either way the
    run goes on with every batch exactly once and no error; a closed transport is one reconnect, after the link is
    back, that redoes only the interrupted batch."""
    adb_server.connect(own_device.adb_serial)
    line = lines.adb_line("dut", own_device.adb_serial, adb_server.port, how="connect")
    _, t, _, total = run_with_link_cut(tmp_path, devbench_cmd, own_device, 60, device="reconnect_timeout_s: 150",
                                       target=line)
    recs = t.get("reconnects") or []
    assert len(recs) <= 1, recs
    if recs:
        [rec] = recs
        assert "connection lost" in rec["lost"].lower() and rec["redo"], rec
        assert any(w.startswith("connection lost during ") for w in t["warnings"]), t["warnings"]
        print(f"[faults] adb link down 60 s: adb closed the transport; reconnected ({rec}); "
              f"run over {total:.0f} s after the cut")
    else:
        print(f"[faults] adb link down 60 s: absorbed by the transport; run over {total:.0f} s after the cut")


STANDIN_TREE = "/data/local/tmp/standin-tree"
STANDIN_BIN = "/usr/local/bin"


def kill_in_device(dev: LabDevice, comm: str) -> list[int]:
    """SIGKILL every process of the device named `comm` (by PID); the PIDs killed."""
    victims = device_pids(dev, comm)
    for pid in victims:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    return victims


@pytest.mark.parametrize("transport", ["adb", "ssh"])
def test_connection_cut_at_restore_is_restored_on_reconnect_from_the_journal(
    tmp_path, adb_server, own_device, monkeypatch, transport
):
    """A real cut at the moment devbench starts restoring: over adb, adbd is SIGKILLed (it is
    started again only when devbench connects anew); over SSH, the connection's sshd-session
    processes are SIGKILLed (the listening sshd stays). The device is a stand-in Android tree in
    a lab device (tests/standins), changed by the run. Every restore command fails on the dead
    connection, the run records restore-failed, then devbench reconnects and restores the
    device from the journal it left there. The run is in this process only to time the cut."""
    import devbench.run.steps as steps
    from devbench.config import load_config
    from devbench.device.tuning import Tuner
    from devbench.run.runner import NoProgress, execute, start_run
    from tests.standins import android_device as standin

    ssh = ssh_of(own_device)  # the fault injector's own connection, closed before the run
    try:
        standin.lay_out(ssh, STANDIN_TREE, standin.tree_files())
        standin.install(ssh, STANDIN_BIN)
        before = standin.read_tree(ssh, STANDIN_TREE)
    finally:
        ssh.close()
    if transport == "adb":
        adb_server.connect(own_device.adb_serial)
        line = lines.adb_line("phone", own_device.adb_serial, adb_server.port, how="connect")
    else:
        line = lines.ssh_line("phone", own_device.ssh())
    device = (
        "reconnect_timeout_s: 60, stop_framework: true, cpufreq: {governor: performance, khz: 1800000, cpus: [0, 4]}, "
        f"pin: [0, 1], sysfs: {STANDIN_TREE}/sys, procfs: {STANDIN_TREE}/proc"
    )
    cfg = load_config(write_config(tmp_path, line, forks=40, batches=4, vmas=512, device=device))

    real_open, real_restore = steps.open_target, Tuner.restore
    killed: list[int] = []
    opened: list[str] = []

    def restore(self):
        killed.extend(kill_in_device(own_device, "adbd" if transport == "adb" else "sshd-session"))
        assert killed, "nothing to kill: the cut did not happen"
        return real_restore(self)

    def open_target(tcfg, run_dir, step, **kw):
        if killed and transport == "adb" and not device_pids(own_device, "adbd"):
            back = ssh_of(own_device)  # the device comes back when devbench tries again
            try:
                res = back.run(
                    ["sh", "-c", 'ADBD_PORT=5555 nohup "$0" >/dev/null 2>&1 & echo $!', ADBD_PATH], timeout=30
                )
                assert res.stdout.strip().isdigit()  # it dies with the device at the end
            finally:
                back.close()
            own_device.wait_ready(30)
        opened.append("after the cut" if killed else "first")
        return real_open(tcfg, run_dir, step, **kw)

    monkeypatch.setattr(steps, "open_target", open_target)
    monkeypatch.setattr(Tuner, "restore", restore)
    run_dir, store = start_run(cfg)
    assert execute(cfg, store, NoProgress()) is False  # the failed restore is an error of the run
    assert opened == ["first", "after the cut"] and killed

    check = ssh_of(own_device)
    try:
        assert standin.read_tree(check, STANDIN_TREE) == before  # every file of the tree as it was
        assert standin.getprop(check, "init.svc.zygote") == "running"
        assert standin.getprop(check, "sys.boot_completed") == "1"
        workdir = "/data/local/tmp/devbench" if transport == "adb" else "/tmp/devbench"
        # the journal is gone
        assert check.run(["test", "-e", f"{workdir}/restore-journal.json"], timeout=30).exit_code == 1
        standin.uninstall(check, STANDIN_BIN)
    finally:
        check.close()
    data = json.loads((run_dir / "results.json").read_text())
    [t] = data["targets"]
    errors = [e for e in data["errors"] if e["kind"] != "kernel-lacks-anon-vma-name"]  # this host's kernel
    assert [e["kind"] for e in errors] == ["restore-failed"], [e["message"] for e in errors]
    changed = len(t["device_changes"])
    assert changed >= 5 and f"{changed} setting(s) not restored" in errors[0]["message"], errors[0]["message"]
    assert not any(c["restored"] for c in t["device_changes"])  # as the cut connection saw it
    undid = "restore on reconnect: undid run " + data["run"]["id"]
    assert any(w.startswith(undid) for w in t["warnings"]), t["warnings"]
    # nothing measured is lost
    assert sum(len(s["fork_ns"]) for s in data["samples"] if s["arm"] == "unnamed") == 2 * 40
    print(f"[faults] {transport}: cut at restore (killed {killed}); {errors[0]['message'][:200]}")
