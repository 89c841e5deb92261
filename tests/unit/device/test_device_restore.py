"""Planted restore journals (issue 16), replayed for real by recover() through LocalTarget on a
STAND-IN phone tree in tmp_path (tests/standins/android_device.py). Each hostile journal is
refused with one line, the journal is kept, and a canary proves nothing was written. The same
cases run against the real lab devices over adb and SSH in tests/lab/test_trust_boundary.py."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from devbench.config import DeviceConfig, LocalOptions
from devbench.device.journal import Entry, Journal
from devbench.device.restore import journal_path, recover
from devbench.errors import TargetError
from devbench.targets.local import LocalTarget
from tests.standins import android_device as standin

DEAD_PID = 2 ** 22 + 12345  # above pid_max's default: no process has it


class Device:
    def __init__(self, tmp_path: Path):
        self.work = tmp_path / "work"
        self.target = LocalTarget("here", LocalOptions(workdir=str(self.work)))
        self.root = tmp_path / "tree"
        standin.lay_out(self.target, str(self.root), standin.tree_files())
        self.sysfs, self.procfs = f"{self.root}/sys", f"{self.root}/proc"
        (self.root / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
        (self.root / "proc/sys/kernel/core_pattern").write_text("core\n")
        self.canary = tmp_path / "canary"
        self.canary.write_text("untouched\n")
        self.work.mkdir(mode=0o700)

    def config(self, **kw) -> DeviceConfig:
        return DeviceConfig(sysfs=self.sysfs, procfs=self.procfs, **kw)

    def plant(self, entries: list[Entry], **kw) -> Path:
        fields = dict(run_id="planted", host=socket.gethostname(), pid=DEAD_PID, started="2026-01-01T00:00:00+00:00",
                      sysfs=self.sysfs, procfs=self.procfs, entries=entries)
        fields.update(kw)
        path = Path(journal_path(str(self.work)))
        path.write_text(Journal(**fields).encode())
        return path

    def tree(self) -> dict[str, str]:
        return {str(p.relative_to(self.root)): p.read_text() for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.fixture
def dev(tmp_path):
    return Device(tmp_path)


def refused(dev: Device, match: str, **cfg) -> str:
    before = dev.tree()
    path = Path(journal_path(str(dev.work)))
    text = path.read_text() if path.exists() else None
    with pytest.raises(TargetError, match=match) as exc:
        recover(dev.target, str(dev.work), dev.config(**cfg))
    assert "\n" not in str(exc.value) and str(exc.value).startswith("here: ")
    assert dev.tree() == before and dev.canary.read_text() == "untouched\n"  # nothing written
    if text is not None:
        assert path.read_text() == text  # the journal is kept for a person to look at
    return str(exc.value)


def test_core_pattern_is_refused(dev):
    dev.plant([Entry("file", "kernel.core_pattern", f"{dev.procfs}/sys/kernel/core_pattern", f"|{dev.canary} %p")])
    refused(dev, "not a setting devbench makes")
    assert (dev.root / "proc/sys/kernel/core_pattern").read_text() == "core\n"


def test_a_devbench_label_on_core_pattern_is_refused(dev):
    dev.plant([Entry("file", "vm.max_map_count", f"{dev.procfs}/sys/kernel/core_pattern", "65530")])
    refused(dev, "not a setting devbench makes")


def test_a_symlinked_root_of_the_journals_own_is_refused(dev, tmp_path):
    """The reproduced attack: the journal names its own sysfs, a `sys` that is a link elsewhere."""
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "sys").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "outside/devices/system/cpu/cpu1").mkdir(parents=True)
    target_file = tmp_path / "outside/devices/system/cpu/cpu1/online"
    target_file.write_text("canary\n")
    dev.plant([Entry("file", "cpu1 online", f"{evil}/sys/devices/system/cpu/cpu1/online", "1")], sysfs=f"{evil}/sys")
    line = refused(dev, r"its sysfs root .* is not the config's device.sysfs")
    assert str(evil) in line and target_file.read_text() == "canary\n"


def test_a_symlink_inside_the_configs_root_is_not_written_through(dev):
    mmc = dev.root / "proc/sys/vm/max_map_count"
    mmc.unlink()
    mmc.symlink_to(dev.canary)
    path = dev.plant([Entry("file", "vm.max_map_count", str(mmc), "65530")])
    rec = recover(dev.target, str(dev.work), dev.config())
    assert rec.errors and "symbolic link: not written" in rec.errors[0]
    assert dev.canary.read_text() == "untouched\n" and path.exists()


def test_a_foreign_root_prefix_is_not_used(dev):
    """A journal that names `sudo -n` is replayed, if at all, with the config's root method: with
    device.root: never it is refused and nothing runs."""
    dev.plant(
        [Entry("file", "cpu1 online", f"{dev.sysfs}/devices/system/cpu/cpu1/online", "1")], root_prefix=("sudo", "-n")
    )
    refused(dev, "device.root is 'never' and gives no root here: nothing written", root="never")


def test_an_unknown_root_prefix_is_refused(dev):
    path = dev.plant([])
    data = json.loads(path.read_text())
    data["root_prefix"] = ["sh", "-c", f"echo pwned > {dev.canary}"]
    path.write_text(json.dumps(data))
    refused(dev, "unknown root prefix")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another uid")
def test_a_journal_owned_by_someone_else_is_refused(dev):
    path = dev.plant([Entry("file", "cpu1 online", f"{dev.sysfs}/devices/system/cpu/cpu1/online", "1")])
    os.chown(path, 65534, 65534)
    refused(dev, "owned by uid 65534, neither devbench's uid 0 nor root")


def test_a_world_writable_journal_is_refused(dev):
    path = dev.plant([Entry("file", "cpu1 online", f"{dev.sysfs}/devices/system/cpu/cpu1/online", "1")])
    os.chmod(path, 0o666)
    refused(dev, r"writable by others \(mode 666\)")


def test_a_journal_in_a_world_writable_folder_is_refused(dev):
    dev.plant([Entry("file", "cpu1 online", f"{dev.sysfs}/devices/system/cpu/cpu1/online", "1")])
    os.chmod(dev.work, 0o777)
    refused(dev, r"work folder: .*/work is writable by others \(mode 777\)")


def test_a_value_not_of_its_shape_is_refused(dev):
    dev.plant(
        [
            Entry(
                "file",
                "policy0 scaling_governor",
                f"{dev.sysfs}/devices/system/cpu/cpufreq/policy0/scaling_governor",
                f"x\n$(touch {dev.canary}2)",
            )
        ]
    )
    refused(dev, "is not of its shape")
    assert not Path(f"{dev.canary}2").exists()


def test_devbench_own_journal_is_replayed_and_removed(dev):
    online = dev.root / "sys/devices/system/cpu/cpu1/online"
    online.write_text("1\n")  # as a dead run left it: brought online
    path = dev.plant([Entry("file", "cpu1 online", str(online), "0")])
    rec = recover(dev.target, str(dev.work), dev.config())
    assert not rec.errors and rec.restored == ["cpu1 online"] and not path.exists()
    assert online.read_text() == "0\n"
