"""The steps of a target's run (devbench.run.steps), one by one, against a stand-in: this
machine's shell (LocalTarget) on a stand-in phone tree in tmp_path (tests/standins), with the
payload replaced by a recorder (the real payload runs in tests/e2e and the lab)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from devbench.config import LocalOptions, QemuOptions, TargetConfig, parse_text
from devbench.device.session import DeviceSession
from devbench.errors import ConnectionLost, TargetError
from devbench.payload.build import Payload
from devbench.results.store import ResultsStore, new_results
from devbench.run import steps
from devbench.run.context import Cancel, TargetRun
from devbench.targets.local import LocalTarget
from tests.standins import android_device as standin

STEP_NAMES = ["start", "connect", "make_work_folder", "take_lock", "recover_journal", "probe_device", "plan_target",
              "build_payload", "push_payload", "measure", "release", "finish"]


class Recorder:
    """The progress display: every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def target_started(self, target: str, total_forks: int) -> None: self.calls.append(("started", (total_forks,)))

    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None:
        self.calls.append(("plan", (dict(remaining),)))
    def step(self, target: str, text: str) -> None: self.calls.append(("step", (text,)))

    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None:
        self.calls.append(("batch", (scenario, arm)))
    def target_done(self, target: str, ok: bool, text: str) -> None: self.calls.append(("done", (ok, text)))


class StandIn(LocalTarget):
    """This machine as a device that tells more about itself (a serial, a warning)."""

    def __init__(self, name: str, options: LocalOptions, info: Mapping[str, object], warnings: list[str]):
        super().__init__(name, options)
        self.info = info
        self.warnings = warnings
        self.closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def _config(tmp_path: Path, root: str, scenarios: str = "[{name: unpopulated, pages: 0}]") -> str:
    return (f"run: {{name: steps, output: {tmp_path / 'out'}}}\n"
            f"targets: [{{name: here, local: {{workdir: {tmp_path / 'work'}}}}}]\n"
            f"device: {{sysfs: {root}/sys, procfs: {root}/proc}}\n"
            f"benchmark: {{vmas: 512, forks: 20, batches: 2, scenarios: {scenarios}}}\n")


@pytest.fixture
def tree(tmp_path: Path) -> str:
    root = str(tmp_path / "tree")
    standin.lay_out(LocalTarget("local", LocalOptions()), root, standin.tree_files())
    return root


def _run(tmp_path: Path, root: str, text: str | None = None, resume: bool = False) -> TargetRun:
    cfg = parse_text(text or _config(tmp_path, root))
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    store = ResultsStore(run_dir / "results.json", new_results("r1", "steps", cfg.raw, cfg.file))
    return TargetRun(cfg, cfg.targets[0], store, Recorder(), Cancel(), resume)


@pytest.fixture
def device(monkeypatch, tmp_path: Path) -> dict[str, Any]:
    """open_target gives a StandIn; the payload is a small file, and running it records a batch."""
    opened: list[StandIn] = []
    state: dict[str, Any] = {"opened": opened, "info": {"serial": "standin-1"}, "warnings": ["a stand-in device"],
                             "invocations": [], "lose": 0}

    def open_target(tcfg, run_dir, step, **kw):
        opened.append(StandIn(tcfg.name, tcfg.options, state["info"], list(state["warnings"])))
        return opened[-1]

    payload = tmp_path / "payload"
    payload.write_text("#!/bin/sh\n")
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()

    def run_invocation(target, remote, inv, bench, store, progress, prefix=(), cancel=None, batch_offset=0, boot=None):
        if state["lose"]:
            state["lose"] -= 1
            raise ConnectionLost(target.name, inv.scenario.name, "connection lost: injected")
        state["invocations"].append((inv.scenario.name, inv.arm))
        for arm in inv.arms:
            store.add_sample(target.name, inv.scenario.name, arm, 0, 0, [1000] * bench.forks)

    monkeypatch.setattr(steps, "open_target", open_target)
    monkeypatch.setattr(steps, "build", lambda abi, cfg: Payload(payload, abi or "x86_64", "stand-in", digest))
    monkeypatch.setattr(steps, "run_invocation", run_invocation)
    monkeypatch.setattr(steps, "RECONNECT_BACKOFF_S", (0,))
    return state


def _errors(run: TargetRun) -> list[str]:
    return [e["kind"] for e in run.store.data["errors"] if e["target"] == run.name]


def _target(run: TargetRun) -> dict[str, Any]:
    [t] = [t for t in run.store.data["targets"] if t["name"] == run.name]
    return t


def test_a_run_is_its_steps_in_order_and_leaves_the_device_as_it_was(monkeypatch, tmp_path, tree, device):
    called: list[str] = []
    for name in STEP_NAMES:
        real = getattr(steps, name)
        monkeypatch.setattr(
            steps, name, lambda *a, _real=real, _name=name, **kw: (called.append(_name), _real(*a, **kw))[1]
        )
    run = _run(tmp_path, tree)
    before = standin.read_tree(LocalTarget("x", LocalOptions()), tree)
    assert steps.run_target(run.cfg, run.tcfg, run.store, run.progress, run.cancel) is True
    assert called == STEP_NAMES
    assert device["invocations"] == [("unpopulated", "both")]
    assert standin.read_tree(LocalTarget("x", LocalOptions()), tree) == before  # prepared, then restored
    t = _target(run)
    assert (
        t["status"] == "ok" and t["transport_info"] == {"serial": "standin-1"} and "a stand-in device" in t["warnings"]
    )
    assert any(c["restored"] for c in t["device_changes"])  # vm.max_map_count was raised for the 512 VMAs
    assert not (tmp_path / "work" / ".lock").exists() and device["opened"][0].closed


# each step, the call inside it made to fail, and the error kind it is recorded as
STEP_FAILURES = {
    "connect": ("open_target", "connect-failed"), "work folder": ("ensure_private", "work-folder-refused"),
    "lock": ("acquire", "device-busy"), "restore journal": ("recover", "restore-failed"),
    "probe": ("probe", "probe-failed"), "plan": ("DeviceSession.open", "device-error"),
    "build payload": ("build", "build-failed"), "push payload": ("deploy", "push-failed"),
    "measure": ("run_invocation", "device-error"),
}


@pytest.mark.parametrize("step_name", list(STEP_FAILURES))
def test_each_step_fails_with_its_own_kind_and_the_device_is_let_go(monkeypatch, tmp_path, tree, device, step_name):
    where, kind = STEP_FAILURES[step_name]

    def fail(*args, **kwargs):
        raise TargetError("here", "stand-in", "boom")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    for how in (fail, interrupt):
        if where == "DeviceSession.open":
            monkeypatch.setattr(DeviceSession, "open", how)
        else:
            monkeypatch.setattr(steps, where, how)
        run = _run(tmp_path, tree)
        before = standin.read_tree(LocalTarget("x", LocalOptions()), tree)
        if how is fail:
            assert steps.run_target(run.cfg, run.tcfg, run.store, run.progress, run.cancel) is False
            assert _errors(run) == [kind] and _target(run)["status"] == "failed"
        else:
            with pytest.raises(KeyboardInterrupt):
                steps.run_target(run.cfg, run.tcfg, run.store, run.progress, run.cancel)
            [e] = run.store.data["errors"]
            assert (e["kind"], e["message"]) == ("interrupted", f"interrupted during {step_name}")
        assert standin.read_tree(LocalTarget("x", LocalOptions()), tree) == before
        assert not (tmp_path / "work" / ".lock").exists()
        assert all(t.closed for t in device["opened"])


def test_a_transport_names_its_own_step_kind(monkeypatch, tmp_path, tree, device):
    def boot_fails(tcfg, run_dir, step, **kw):
        raise TargetError(tcfg.name, "boot", "no login prompt")

    monkeypatch.setattr(steps, "open_target", boot_fails)
    run = _run(tmp_path, tree)
    assert steps.run_target(run.cfg, run.tcfg, run.store, run.progress, run.cancel) is False
    assert _errors(run) == ["boot-failed"]


def test_take_lock_records_what_the_transport_says(tmp_path, tree, device):
    run = _run(tmp_path, tree)
    steps.start(run)
    steps.connect(run)
    steps.make_work_folder(run)
    steps.take_lock(run)
    assert (tmp_path / "work" / ".lock").is_dir() and run.lock is not None
    t = _target(run)
    assert t["transport_info"] == {"serial": "standin-1"} and t["warnings"] == ["a stand-in device"]
    steps.release(run)
    assert not (tmp_path / "work" / ".lock").exists() and device["opened"][0].closed


def test_probe_device_makes_an_emulator_a_smoke_run(tmp_path, tree, device):
    device["info"] = {"serial": "emulator-5554"}
    run = _run(tmp_path, tree, _config(tmp_path, tree).replace("forks: 20", "forks: 2000"))
    steps.connect(run)
    facts = steps.probe_device(run)
    assert facts.abi and _target(run)["facts"]["abi"] == facts.abi
    assert run.bench.forks < 2000 and run.cfg.benchmark.forks == 2000
    assert any(w.startswith("emulator smoke run") for w in _target(run)["warnings"])


def test_plan_target_refuses_when_nothing_fits_and_resumes_what_is_left(tmp_path, tree, device):
    run = _run(tmp_path, tree, _config(tmp_path, tree, "[{name: huge, pages: 100000}]"))
    steps.connect(run)
    facts = steps.probe_device(run)
    with pytest.raises(TargetError, match="every scenario was refused"):
        steps.plan_target(run, facts)
    assert _errors(run) == ["not-enough-memory"]

    run = _run(tmp_path, tree, resume=True)
    steps.connect(run)
    for arm in ("unnamed", "named"):
        for batch in (0, 1):
            run.store.add_sample("here", "unpopulated", arm, batch, 0, [1000] * 10)
    _, invocations = steps.plan_target(run, steps.probe_device(run))
    assert invocations == [] and "resumed: every batch was already measured" in _target(run)["warnings"]


def test_push_payload_puts_it_in_the_work_folder(tmp_path, tree, device):
    run = _run(tmp_path, tree)
    steps.connect(run)
    steps.make_work_folder(run)
    payload = steps.build_payload(run, steps.probe_device(run))
    remote = steps.push_payload(run, payload)
    assert Path(remote).read_bytes() == payload.path.read_bytes() and Path(remote).parent == tmp_path / "work"
    assert _target(run)["payload"]["sha256"] == payload.sha256


def test_a_lost_connection_is_reconnected_and_the_run_goes_on(tmp_path, tree, device):
    device["lose"] = 1
    run = _run(tmp_path, tree)
    assert steps.run_target(run.cfg, run.tcfg, run.store, run.progress, run.cancel) is True
    assert len(device["opened"]) == 2 and device["invocations"] == [("unpopulated", "both")]
    [r] = _target(run)["reconnects"]
    assert r["during"] == "unpopulated" and r["redo"] == [{"scenario": "unpopulated", "arm": "both", "from_batch": 0}]
    assert any(w.startswith("connection lost during unpopulated") for w in _target(run)["warnings"])


def test_a_device_devbench_started_is_not_reconnected(tmp_path, tree):
    run = _run(tmp_path, tree)
    run.tcfg = TargetConfig("here", "qemu", QemuOptions(arch="x86_64"))
    lost = ConnectionLost("here", "unpopulated", "connection lost: injected")
    with pytest.raises(TargetError) as caught:
        steps.reconnect_and_recover(run, None, [], lost, [])  # type: ignore[arg-type]
    assert steps.step_of(caught.value) is steps.RECONNECT and steps.RECONNECT.kind == "device-lost"


def test_the_innermost_step_names_a_failure():
    with pytest.raises(ValueError) as caught:
        with steps.in_step(steps.RESTORE):
            with steps.in_step(steps.MEASURE):
                raise ValueError("x")
    assert steps.step_of(caught.value) is steps.MEASURE
    assert steps.step_of(ValueError("between steps")) is steps.FINISH


def test_finish_is_ok_only_without_errors(tmp_path, tree):
    run = _run(tmp_path, tree)
    steps.start(run)
    assert steps.finish(run) is True and _target(run)["status"] == "ok"
    run.store.add_error("here", None, None, "probe-failed", "x")
    assert steps.finish(run) is False and run.progress.calls[-1] == ("done", (False, "x"))
