"""What devbench does TO a device, each step snapshotting the old value and undone in reverse.

So far: vm.max_map_count raised to what the scenarios need. CPU frequency locking and
stopping the Android framework are recorded as requested-but-not-applied warnings: the
numbers of such a run come from an untuned device and the report says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

from devbench.config import BenchmarkConfig, DeviceConfig
from devbench.device.probe import Facts
from devbench.errors import TargetError
from devbench.plan import required_map_count
from devbench.targets.base import Target

MAX_MAP_COUNT = "/proc/sys/vm/max_map_count"


@dataclass
class Change:
    setting: str
    before: str
    after: str
    restored: bool = False

    def to_json(self) -> dict[str, object]:
        return {"setting": self.setting, "before": self.before, "after": self.after, "restored": self.restored}


def read_file(target: Target, path: str) -> str:
    res = target.run(["cat", path], timeout=30)
    if not res.ok:
        raise TargetError(target.name, f"read {path}", res.last_words() or f"exit {res.exit_code}")
    return res.stdout.strip()


def write_file(target: Target, path: str, value: str) -> None:
    # path and value reach the shell as positional parameters, never as command text
    res = target.run(["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sh", path, value], timeout=30)
    if not res.ok:
        raise TargetError(target.name, f"write {path}", res.last_words() or f"exit {res.exit_code}")


def requested_but_unsupported(device: DeviceConfig) -> list[str]:
    out = []
    if device.stop_framework:
        out.append("device.stop_framework was asked for but devbench does not stop the Android framework yet: framework not stopped")
    if device.cpufreq is not None:
        out.append("device.cpufreq was asked for but devbench does not lock CPU frequency yet: clocks not locked")
    return out


@contextlib.contextmanager
def prepared(
    target: Target,
    facts: Facts,
    device: DeviceConfig,
    bench: BenchmarkConfig,
    record: Callable[[list[Change]], None],
    warn: Callable[[str], None],
) -> Iterator[list[Change]]:
    """Apply the device settings, yield, and always restore them in reverse order."""
    changes: list[Change] = []
    undo: list[Callable[[], None]] = []
    for message in requested_but_unsupported(device):
        warn(message)
    if not facts.android:
        warn("not an Android device (no getprop): Linux path, framework and Android properties not applicable")
    try:
        want = required_map_count(bench) if device.max_map_count == "auto" else int(device.max_map_count or 0)
        current = facts.max_map_count
        if want and current is not None and current < want:
            if not facts.root:
                warn(f"vm.max_map_count is {current}, the scenarios need {want}; not root, so it was not raised")
            else:
                write_file(target, MAX_MAP_COUNT, str(want))
                got = read_file(target, MAX_MAP_COUNT)
                change = Change("vm.max_map_count", str(current), got)
                changes.append(change)

                def restore(change: Change = change) -> None:
                    write_file(target, MAX_MAP_COUNT, change.before)
                    change.restored = read_file(target, MAX_MAP_COUNT) == change.before

                undo.append(restore)
                record(changes)
                if got != str(want):
                    warn(f"vm.max_map_count set to {want} but reads back {got}")
        yield changes
    finally:
        errors = []
        for step in reversed(undo):
            try:
                step()
            except TargetError as exc:
                errors.append(str(exc))
        record(changes)
        if errors:
            raise TargetError(target.name, "restore", "; ".join(errors))
