"""labgrid targets against a real labgrid coordinator and exporter, started here on loopback.

The exporter exports the lab device's sshd (inside its network namespace) as a NetworkService;
each test makes a place of its own that matches it. Every process is started by the fixture
and ended by its PID.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devbench.config import LabgridOptions
from devbench.errors import TargetError
from devbench.guest.adbserver import free_port
from devlab import procs
from tests.e2e.test_run_local import kernel_has_anon_vma_name
from tests.lab import runs

pytest.importorskip("labgrid.remote.client")

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]

EXPORTER, GROUP = "devbench-lab", "lab-ssh"
RESOURCE = f"{EXPORTER}/{GROUP}/NetworkService/NetworkService"
OTHER = {"LG_HOSTNAME": "otherhost", "LG_USERNAME": "alice"}
FORKS, BATCHES, VMAS = 10, 2, 512


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower()
        not in ("http_proxy", "https_proxy", "grpc_proxy", "all_proxy", "lg_coordinator", "lg_place", "lg_env")
    }
    env.update(extra)
    return env


@dataclass
class Labgrid:
    address: str  # the coordinator's HOST:PORT
    workdir: Path

    def client(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([sys.executable, "-m", "labgrid.remote.client", "-x", self.address, *args],
                             capture_output=True, text=True, timeout=30, env=_env(**(env or {})), cwd=self.workdir)
        if check:
            assert res.returncode == 0, f"labgrid-client {' '.join(args)}: {res.stdout}{res.stderr}"
        return res

    def place(self, name: str, match: str = f"{EXPORTER}/{GROUP}/NetworkService") -> str:
        self.client("-p", name, "create")
        self.client("-p", name, "add-match", match)
        return name

    def acquired_by(self, place: str) -> str | None:
        out = self.client("-p", place, "show").stdout
        [line] = [ln for ln in out.splitlines() if ln.strip().startswith("acquired:")]
        value = line.split(":", 1)[1].strip()
        return None if value == "None" else value


def _start(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=_env(PYTHONUNBUFFERED="1"),
                                stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    left = procs.kill_tree(proc.pid)
    proc.wait(timeout=10)
    assert not left, f"labgrid processes left behind: {left}"


def _wait(what: str, ready, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if ready():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} not ready after {timeout:.0f} s: {log.read_text()[-2000:]}")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def labgrid_lab(tmp_path_factory, ssh_device) -> Iterator[Labgrid]:
    """A labgrid coordinator on a free loopback port and an exporter of the lab device's sshd."""
    work = tmp_path_factory.mktemp("labgrid")
    port = free_port()
    lab = Labgrid(f"127.0.0.1:{port}", work)
    (work / "exporter.yaml").write_text(
        f"{GROUP}:\n  NetworkService:\n    address: {ssh_device.host}\n    port: {ssh_device.port}\n"
        f"    username: {ssh_device.user}\n")
    coordinator = _start([sys.executable, "-m", "labgrid.remote.coordinator", "-l", lab.address],
                         work / "coordinator.log", work)  # its places.yaml goes into work/
    exporter = None
    try:
        _wait("labgrid-coordinator", lambda: _listening(port), coordinator, work / "coordinator.log")
        exporter = _start([sys.executable, "-m", "labgrid.remote.exporter", "-c", lab.address, "-n", EXPORTER,
                           "--hostname", "127.0.0.1", str(work / "exporter.yaml")], work / "exporter.log", work)
        _wait("labgrid-exporter", lambda: f"{EXPORTER}/{GROUP}/NetworkService" in lab.client("resources").stdout,
              exporter, work / "exporter.log")
        yield lab
    finally:
        if exporter is not None:
            _stop(exporter)
        _stop(coordinator)


def _config(tmp_path: Path, lab: Labgrid, place: str, ssh, known_hosts: Path | None = None) -> Path:
    cfg = tmp_path / "labgrid.yaml"
    cfg.write_text(f"""\
run: {{name: labgrid e2e, output: {tmp_path / 'out'}}}
targets:
  - name: lg
    labgrid: {{place: {place}, coordinator: "{lab.address}", key: {ssh.key}, known_hosts: {known_hosts or ssh.known_hosts}, workdir: /tmp/devbench-labgrid}}
benchmark:
  vmas: {VMAS}
  forks: {FORKS}
  warmup: 1
  batches: {BATCHES}
  scenarios:
    - {{name: unpopulated, pages: 0}}
""")  # noqa: E501 (data, kept as it is)
    return cfg


def _results(tmp_path: Path) -> dict:
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    return json.loads((run_dir / "results.json").read_text())


def test_run_on_a_labgrid_place_then_the_place_is_released(tmp_path, devbench_cmd, labgrid_lab, ssh_device):
    place = labgrid_lab.place("devbench-run")
    res = runs.run([*devbench_cmd, "run", str(_config(tmp_path, labgrid_lab, place, ssh_device)), "--quiet"],
                         capture_output=True, text=True, timeout=100, env=_env())
    assert "Traceback" not in res.stderr, res.stderr
    noise = [ln for ln in res.stderr.splitlines() if not ln.startswith("devbench: ")]
    assert not noise, res.stderr  # nothing from labgrid's or gRPC's loggers
    feature = kernel_has_anon_vma_name()
    assert res.returncode == (0 if feature else 1), res.stdout + res.stderr
    data = _results(tmp_path)
    [t] = data["targets"]
    assert (t["name"], t["transport"]) == ("lg", "labgrid")
    info = t["transport_info"]
    assert info["place"] == place and info["coordinator"] == labgrid_lab.address and info["resource"] == RESOURCE
    assert info["ssh"] == f"{ssh_device.user}@{ssh_device.host}:{ssh_device.port}" and info["acquired_at"]
    assert t["payload"]["remote"].startswith("/tmp/devbench-labgrid/")

    def samples(arm: str) -> list[int]:
        return [x for s in data["samples"] if (s["target"], s["arm"]) == ("lg", arm) for x in s["fork_ns"]]

    assert len(samples("unnamed")) == FORKS
    if feature:
        assert len(samples("named")) == FORKS
    else:  # this host's kernel lacks CONFIG_ANON_VMA_NAME: the named arm is refused, the rest is kept
        assert samples("named") == []
        assert [(e["kind"], e["arm"]) for e in data["errors"]] == [("kernel-lacks-anon-vma-name", "named")]
    assert labgrid_lab.acquired_by(place) is None
    assert place not in labgrid_lab.client("who").stdout


def test_a_place_held_by_someone_else_fails_the_target_and_stays_theirs(
    tmp_path, devbench_cmd, labgrid_lab, ssh_device
):
    place = labgrid_lab.place("devbench-busy")
    labgrid_lab.client("-p", place, "acquire", env=OTHER)
    try:
        start = time.monotonic()
        res = runs.run([*devbench_cmd, "run", str(_config(tmp_path, labgrid_lab, place, ssh_device)), "--quiet"],
                             capture_output=True, text=True, timeout=60, env=_env())
        assert time.monotonic() - start < 30
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        want = f"labgrid place {place} is acquired by otherhost/alice"
        table = " ".join(res.stdout.split())  # the table lists the failure once, wrapped at 80 columns
        assert table.count(want) == 1 and f"! connect-failed: lg: acquire place: {want}" in table, res.stdout
        failed = [ln for ln in res.stderr.splitlines() if want in ln]  # and --quiet says why it exited 1
        assert len(failed) == 1 and failed[0].startswith("devbench: lg FAILED: "), res.stderr
        [err] = [e for e in _results(tmp_path)["errors"] if e["target"] == "lg"]
        assert err["kind"] == "connect-failed" and want in err["message"] and "\n" not in err["message"]
        assert not [s for s in _results(tmp_path)["samples"] if s["fork_ns"]]
        assert labgrid_lab.acquired_by(place) == "otherhost/alice"
    finally:
        labgrid_lab.client("-p", place, "release", env=OTHER)


# -- in process: every failure after the acquire releases the place ----------------------------

def _target(lab: Labgrid, place: str, ssh, **kw):
    from devbench.targets.labgrid import LabgridTarget

    opts = dict(place=place, coordinator=lab.address, key=str(ssh.key), known_hosts=str(ssh.known_hosts),
                workdir="/tmp/devbench-labgrid", connect_timeout=10.0)
    opts.update(kw)
    return LabgridTarget("lg", LabgridOptions(**opts))


def test_target_runs_commands_and_close_releases(labgrid_lab, ssh_device):
    place = labgrid_lab.place("devbench-api")
    steps: list[str] = []
    from devbench.targets.labgrid import LabgridTarget

    t = LabgridTarget("lg", LabgridOptions(place=place, coordinator=labgrid_lab.address, key=str(ssh_device.key),
                                           known_hosts=str(ssh_device.known_hosts)), steps.append)
    try:
        assert labgrid_lab.acquired_by(place) == t.identity and t.identity.count("/") == 1
        res = t.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=20)
        assert (res.exit_code, res.stdout, res.stderr) == (3, "out\n", "err\n")
        assert steps == [f"acquiring labgrid place {place} on {labgrid_lab.address}",
                         f"connecting over SSH to {ssh_device.user}@{ssh_device.host}:{ssh_device.port}"]
    finally:
        t.close()
    assert labgrid_lab.acquired_by(place) is None
    t.close()  # a second close does nothing
    with pytest.raises(TargetError, match="is released"):
        t.run(["true"])


def test_a_failed_ssh_connect_releases_the_place(tmp_path, labgrid_lab, ssh_device):
    place = labgrid_lab.place("devbench-badkey")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TargetError, match="not in .*known_hosts: refusing an unknown host key"):
        _target(labgrid_lab, place, ssh_device, known_hosts=str(empty))
    assert labgrid_lab.acquired_by(place) is None


def test_a_place_without_a_network_service_is_refused_and_released(labgrid_lab, ssh_device):
    place = labgrid_lab.place("devbench-nothing", match="nosuchexporter/*/NetworkService")
    with pytest.raises(TargetError, match=f"labgrid place {place} has no NetworkService .*over SSH only"):
        _target(labgrid_lab, place, ssh_device)
    assert labgrid_lab.acquired_by(place) is None


def test_a_missing_place_and_a_dead_coordinator_are_named(labgrid_lab, ssh_device):
    with pytest.raises(TargetError, match="labgrid place devbench-nosuch does not exist on coordinator .*places: "):
        _target(labgrid_lab, "devbench-nosuch", ssh_device)
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(TargetError, match=f"lg: acquire place: labgrid coordinator {dead} is not reachable"):
        _target(labgrid_lab, "devbench-nosuch", ssh_device, coordinator=dead)


def test_a_place_held_by_this_user_is_not_taken(labgrid_lab, ssh_device):
    place = labgrid_lab.place("devbench-mine")
    labgrid_lab.client("-p", place, "acquire")
    try:
        with pytest.raises(TargetError, match="this user on this host: another devbench run holds it"):
            _target(labgrid_lab, place, ssh_device)
        assert labgrid_lab.acquired_by(place) not in (None, "otherhost/alice")
    finally:
        labgrid_lab.client("-p", place, "release")


def test_targets_opened_from_several_threads_at_once(labgrid_lab, ssh_device):
    """Concurrent targets (one worker thread each) share one coordinator session: every acquire
    and release goes through, and the coordinator sees no second stream on one connection."""
    import threading

    places = [labgrid_lab.place(f"devbench-thread{i}", match="nosuchexporter/*/NetworkService") for i in range(3)]
    places.append(labgrid_lab.place("devbench-thread-ssh"))
    seen: dict[str, list[str]] = {p: [] for p in places}

    def worker(place: str) -> None:
        for _ in range(3):
            try:
                t = _target(labgrid_lab, place, ssh_device)
                seen[place].append(t.run(["echo", "ok"], timeout=20).stdout.strip())
                t.close()
            except TargetError as exc:
                seen[place].append(exc.message)

    threads = [threading.Thread(target=worker, args=(p,)) for p in places]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert seen.pop("devbench-thread-ssh") == ["ok"] * 3
    for place, messages in seen.items():
        assert messages == [f"labgrid place {place} has no NetworkService (it has: no resources); "
                            "devbench reaches labgrid devices over SSH only"] * 3
    assert [labgrid_lab.acquired_by(p) for p in places] == [None] * 4
    assert "AssertionError" not in (labgrid_lab.workdir / "coordinator.log").read_text()
