"""Applying and restoring a tuning plan for real, through LocalTarget, on a STAND-IN phone tree
laid out in tmp_path (tests/standins/android_device.py). Assertions are on the tree's files,
the journal file and the stand-in properties, not on the commands sent."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from devbench.config import BenchmarkConfig, CpufreqConfig, DeviceConfig, LocalOptions, Scenario
from devbench.device.access import DeviceAccess
from devbench.device.actions import plan_actions
from devbench.device.journal import Journal, decode
from devbench.device.probe import probe
from devbench.device.tuning import Change, Tuner, replay, tuned
from devbench.errors import TargetError
from devbench.targets.local import LocalTarget
from tests.standins import android_device as standin

BENCH = BenchmarkConfig(vmas=512, scenarios=(Scenario("one", 1),))  # needs 512 + 1024 = 1536 maps; the tree allows 1000
CPUFREQ = "sys/devices/system/cpu/cpufreq"

# What the plan below changes in the tree (relative path -> value during the run)
CHANGED = {
    "sys/devices/system/cpu/cpu1/online": "1",
    f"{CPUFREQ}/policy0/scaling_governor": "performance",
    f"{CPUFREQ}/policy0/scaling_min_freq": "1804800",
    f"{CPUFREQ}/policy4/scaling_governor": "performance",
    f"{CPUFREQ}/policy4/scaling_min_freq": "2016000",
    f"{CPUFREQ}/policy4/scaling_max_freq": "2016000",
    "proc/sys/vm/max_map_count": "1536",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The stand-in tree, laid out once through LocalTarget, and its probed facts (copied per test)."""
    root = str(tmp_path_factory.mktemp("standin") / "tree")
    target = LocalTarget("local", LocalOptions())
    standin.lay_out(target, root, standin.tree_files())
    return root, probe(target, sysfs=f"{root}/sys", procfs=f"{root}/proc")


def read_tree(root: str) -> dict[str, str]:
    """Relative path -> content, as standin.read_tree gives it (read here directly: the tree is local)."""
    return {str(p.relative_to(root)): p.read_text().rstrip("\n") for p in sorted(Path(root).rglob("*")) if p.is_file()}


class Phone:
    def __init__(self, tmp_path: Path, template: str, facts):
        self.target = LocalTarget("local", LocalOptions(workdir=str(tmp_path / "work")))
        self.root = str(tmp_path / "tree")
        shutil.copytree(template, self.root)
        self.facts = facts
        self.sysfs, self.procfs = f"{self.root}/sys", f"{self.root}/proc"
        self.journal_path = str(tmp_path / "work" / "restore-journal.json")
        self.before = self.tree()
        self.warnings: list[str] = []
        self.failed: list[str] = []
        self.records: list[list[Change]] = []

    def tree(self) -> dict[str, str]:
        return read_tree(self.root)

    def device(self, **kw) -> DeviceConfig:
        base = dict(cpufreq=CpufreqConfig(governor="performance", khz=1800000, cpus=(0, 4)), pin=(0, 1),
                    sysfs=self.sysfs, procfs=self.procfs)
        base.update(kw)
        return DeviceConfig(**base)

    def plan(self, facts=None, **kw):
        return plan_actions(facts or self.facts, self.device(**kw), BENCH, root=True)

    def small_plan(self):
        """cpu1 online, max_map_count: two plain files."""
        return self.plan(cpufreq=None, pin=(1,))

    def tuner(self, boot_timeout_s: float = 10) -> Tuner:
        journal = Journal(run_id="run-1", host="test-host", pid=os.getpid(), started="2024-06-01T00:00:00+00:00",
                          sysfs=self.sysfs, procfs=self.procfs)
        return Tuner(DeviceAccess(self.target), self.journal_path, journal, warn=self.warnings.append,
                     record=lambda changes: self.records.append([Change(**c.to_json()) for c in changes]),
                     boot_timeout_s=boot_timeout_s, restore_failed=self.failed.append)

    def journal_on_disk(self) -> Journal | None:
        text = DeviceAccess(self.target).read_text(self.journal_path)
        return None if text is None else decode(text, self.journal_path)


@pytest.fixture
def phone(tmp_path, template):
    return Phone(tmp_path, *template)


def test_read_tree_matches_the_stand_in_helper(phone):
    assert phone.tree() == standin.read_tree(phone.target, phone.root)
    assert phone.before["sys/devices/system/cpu/cpu1/online"] == "0"


def test_plan_from_the_stand_in_tree(phone):
    plan = phone.plan()
    assert [a.setting for a in plan.actions] == [
        "cpu1 online", "policy0 scaling_governor", "policy0 scaling_min_freq/scaling_max_freq",
        "policy4 scaling_governor", "policy4 scaling_min_freq/scaling_max_freq", "vm.max_map_count"]
    assert plan.locked_khz == {"policy0": 1804800, "policy4": 2016000}
    assert plan.pin_mask == "3"
    assert plan.actions[0].path == f"{phone.sysfs}/devices/system/cpu/cpu1/online"


def test_changes_during_the_block_and_all_back_after(phone):
    plan = phone.plan()
    with tuned(phone.tuner(), plan) as tuner:
        during = phone.tree()
        journal = phone.journal_on_disk()
    assert {k: v for k, v in during.items() if phone.before.get(k) != v} == CHANGED
    assert set(during) == set(phone.before)
    # the journal on disk holds every old value
    assert journal is not None
    assert [(e.kind, e.path.removeprefix(phone.root + "/"), e.before) for e in journal.entries] == [
        ("file", "sys/devices/system/cpu/cpu1/online", "0"),
        ("file", f"{CPUFREQ}/policy0/scaling_governor", "schedutil"),
        ("range", f"{CPUFREQ}/policy0/scaling_min_freq", "300000 1804800"),
        ("file", f"{CPUFREQ}/policy4/scaling_governor", "schedutil"),
        ("range", f"{CPUFREQ}/policy4/scaling_min_freq", "710400 2841600"),
        ("file", "proc/sys/vm/max_map_count", "1000"),
    ]
    assert (journal.run_id, journal.sysfs, journal.procfs, journal.root_prefix) == (
        "run-1",
        phone.sysfs,
        phone.procfs,
        (),
    )
    # afterwards: everything back, journal gone, every change verified and restored
    assert phone.tree() == phone.before
    assert not os.path.exists(phone.journal_path)
    assert [(c.before, c.after, c.verified, c.restored, c.restored_value) for c in tuner.changes] == [
        ("0", "1", True, True, "0"),
        ("schedutil", "performance", True, True, "schedutil"),
        ("300000 1804800", "1804800 1804800", True, True, "300000 1804800"),
        ("schedutil", "performance", True, True, "schedutil"),
        ("710400 2841600", "2016000 2016000", True, True, "710400 2841600"),
        ("1000", "1536", True, True, "1000"),
    ]
    assert phone.records[-1][0].restored is True and phone.warnings == [] and phone.failed == []


def test_a_value_already_set_is_neither_changed_nor_journaled(phone):
    plan = phone.plan(cpufreq=CpufreqConfig(cpus=(4,)), pin=(0,))  # cpu0 is online: no online action
    assert [a.setting for a in plan.actions] == [
        "policy4 scaling_governor", "policy4 scaling_min_freq/scaling_max_freq", "vm.max_map_count"]
    Path(phone.sysfs, "devices/system/cpu/cpufreq/policy4/scaling_governor").write_text("performance\n")
    before = phone.tree()
    with tuned(phone.tuner(), plan) as tuner:
        journal = phone.journal_on_disk()
    assert [e.setting for e in journal.entries] == ["policy4 scaling_min_freq/scaling_max_freq", "vm.max_map_count"]
    assert [c.setting for c in tuner.changes] == ["policy4 scaling_min_freq/scaling_max_freq", "vm.max_map_count"]
    assert phone.tree() == before


def test_exception_inside_the_block_still_restores(phone):
    plan = phone.small_plan()
    with pytest.raises(RuntimeError, match="benchmark crashed"):
        with tuned(phone.tuner(), plan):
            assert phone.tree() != phone.before
            raise RuntimeError("benchmark crashed")
    assert phone.tree() == phone.before
    assert not os.path.exists(phone.journal_path)
    assert phone.failed == []


def test_failure_while_applying_restores_what_was_applied(phone):
    plan = phone.plan(cpufreq=CpufreqConfig(cpus=(4,)), pin=(1,))
    assert [a.setting for a in plan.actions][:2] == ["cpu1 online", "policy4 scaling_governor"]
    shutil.rmtree(f"{phone.sysfs}/devices/system/cpu/cpufreq/policy4")  # gone after the probe
    before = phone.tree()
    body_ran = []
    with pytest.raises(TargetError) as exc:
        with tuned(phone.tuner(), plan):
            body_ran.append(True)
    assert exc.value.step == f"read {phone.sysfs}/devices/system/cpu/cpufreq/policy4/scaling_governor"
    assert body_ran == []
    assert phone.tree() == before
    assert not os.path.exists(phone.journal_path)


def test_restore_failure_after_an_exception_goes_to_restore_failed(phone):
    plan = phone.small_plan()
    with pytest.raises(RuntimeError, match="boom"):
        with tuned(phone.tuner(), plan) as tuner:
            shutil.rmtree(f"{phone.sysfs}/devices/system/cpu/cpu1")
            raise RuntimeError("boom")
    assert len(phone.failed) == 1
    msg = phone.failed[0]
    assert msg.startswith("1 setting(s) not restored (cpu1 online: write ")
    assert f"the journal {phone.journal_path} stays on the device" in msg
    # the rest was restored; the journal stays, with every entry, for `devbench restore`
    expected = {k: v for k, v in phone.before.items() if not k.startswith("sys/devices/system/cpu/cpu1/")}
    assert phone.tree() == expected
    journal = phone.journal_on_disk()
    assert [e.setting for e in journal.entries] == ["cpu1 online", "vm.max_map_count"]
    assert [(c.setting, c.restored, c.restored_value) for c in tuner.changes] == [
        ("cpu1 online", False, None), ("vm.max_map_count", True, "1000")]


def test_restore_failure_after_a_clean_block_raises(phone):
    plan = phone.small_plan()
    with pytest.raises(TargetError) as exc:
        with tuned(phone.tuner(), plan):
            shutil.rmtree(f"{phone.sysfs}/devices/system/cpu/cpu1")
    assert exc.value.step == "restore" and exc.value.target == "local"
    assert exc.value.message.startswith("1 setting(s) not restored (cpu1 online: ")
    assert phone.failed == []
    assert phone.journal_on_disk() is not None
    assert phone.tree()["proc/sys/vm/max_map_count"] == "1000"


def test_replay_of_a_journal_left_on_disk(phone):
    plan = phone.plan(cpufreq=CpufreqConfig(khz=1800000, cpus=(4,)), pin=(1,))
    tuner = phone.tuner()
    for action in plan.actions:  # applied, then the host "dies": no restore
        tuner.apply(action)
    left = phone.tree()
    assert {k: v for k, v in left.items() if phone.before.get(k) != v} == {
        k: v for k, v in CHANGED.items() if "policy0" not in k
    }
    journal = phone.journal_on_disk()
    assert journal is not None
    access = DeviceAccess(phone.target, journal.root_prefix)
    assert replay(access, journal) == []
    assert phone.tree() == phone.before


def test_replay_reports_what_it_cannot_restore_and_goes_on(phone):
    plan = phone.small_plan()
    tuner = phone.tuner()
    for action in plan.actions:
        tuner.apply(action)
    journal = phone.journal_on_disk()
    shutil.rmtree(f"{phone.sysfs}/devices/system/cpu/cpu1")
    errors = replay(DeviceAccess(phone.target), journal)
    assert len(errors) == 1 and errors[0].startswith(
        f"cpu1 online: write {phone.sysfs}/devices/system/cpu/cpu1/online:"
    )
    expected = {k: v for k, v in phone.before.items() if not k.startswith("sys/devices/system/cpu/cpu1/")}
    assert phone.tree() == expected


def test_userspace_setspeed_is_applied_but_not_journaled(phone):
    plan = phone.plan(cpufreq=CpufreqConfig(governor="userspace", khz=1000000, cpus=(0,)), pin=None)
    setspeed = Path(phone.sysfs, CPUFREQ.removeprefix("sys/"), "policy0/scaling_setspeed")
    with tuned(phone.tuner(), plan) as tuner:
        assert setspeed.read_text() == "1017600\n"
        assert [e.setting for e in phone.journal_on_disk().entries] == [
            "policy0 scaling_governor", "policy0 scaling_min_freq/scaling_max_freq", "vm.max_map_count"]
    assert [(c.setting, c.before, c.after, c.restored) for c in tuner.extra] == [
        ("policy0 scaling_setspeed", "<unsupported>", "1017600", None)]
    after = phone.tree()
    assert after[f"{CPUFREQ}/policy0/scaling_governor"] == "schedutil"
    assert after[f"{CPUFREQ}/policy0/scaling_min_freq"] == "300000"


def test_stop_framework_and_start_it_again(phone, tmp_path, monkeypatch):
    props = str(tmp_path / "props")
    monkeypatch.setenv("PATH", f"{standin.STANDINS}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_PROPS", props)
    standin.lay_out(phone.target, props, standin.PROPS)
    facts = probe(phone.target, sysfs=phone.sysfs, procfs=phone.procfs)  # getprop now answers
    assert facts.android and facts.framework_running is True
    plan = phone.plan(facts, stop_framework=True, cpufreq=None, pin=None, max_map_count=None)
    assert [a.kind for a in plan.actions] == ["framework"]
    assert plan.warnings == ["clocks not locked: device.cpufreq is not set"]
    with tuned(phone.tuner(boot_timeout_s=10), plan) as tuner:
        assert standin.getprop(phone.target, "init.svc.zygote") == "stopped"
        assert standin.getprop(phone.target, "sys.boot_completed") == "0"
        assert [(e.kind, e.before) for e in phone.journal_on_disk().entries] == [("framework", "running")]
        t0 = time.monotonic()
    restore_s = time.monotonic() - t0
    assert standin.getprop(phone.target, "init.svc.zygote") == "running"
    assert standin.getprop(phone.target, "sys.boot_completed") == "1"
    assert restore_s > 0.9  # `start` sets sys.boot_completed 1 to 2 s later: the restore waited for it
    assert [ln.split()[0] for ln in Path(props, ".history").read_text().splitlines()] == ["stop", "start"]
    assert [(c.before, c.after, c.verified, c.restored, c.restored_value) for c in tuner.changes] == [
        ("running", "stopped", True, True, "running")]
    assert not os.path.exists(phone.journal_path)
    assert phone.tree() == phone.before
