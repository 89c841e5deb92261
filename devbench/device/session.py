"""One target's device preparation, from probed facts to a restored device.

    recover()        undo what a dead run left (its journal on the device)
    DeviceSession    root, fit check, tuning plan, then `with session.tuned():` apply,
                     run, sample clocks/temperatures between payload processes, restore
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from devbench.config import BenchmarkConfig, DeviceConfig
from devbench.device.access import DeviceAccess
from devbench.device.actions import TuningPlan, TuningRequestError, plan_actions
from devbench.device.conditions import device_warnings, sample, throttle_warnings
from devbench.device.fit import Refusal, check_fit
from devbench.device.journal import Journal
from devbench.device.privilege import Root, acquire_root
from devbench.device.probe import Facts
from devbench.device.procid import Owner
from devbench.device.restore import journal_path
from devbench.device.tuning import Change, Tuner, tuned
from devbench.errors import TargetError
from devbench.targets.base import Target


@dataclass
class DeviceSession:
    target: Target
    facts: Facts
    device: DeviceConfig
    bench: BenchmarkConfig
    run_id: str
    started: str
    root: Root = field(default_factory=lambda: Root(None))
    refusals: list[Refusal] = field(default_factory=list)
    plan: TuningPlan = field(default_factory=TuningPlan)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, target: Target, facts: Facts, device: DeviceConfig, bench: BenchmarkConfig, run_id: str, started: str,
             *, profiling: bool = False) -> DeviceSession:
        """Root, fit and plan: decided before anything on the device changes."""
        s = cls(target, facts, device, bench, run_id, started)
        s.root = acquire_root(target, facts.uid, device.root)
        s.refusals = check_fit(bench, facts, device, s.root.ok)
        try:
            s.plan = plan_actions(facts, device, bench, s.root.ok, profiling=profiling)
        except TuningRequestError as exc:
            raise TargetError(target.name, "prepare", str(exc)) from None
        return s

    @property
    def warnings(self) -> list[str]:
        stopping = any(a.kind == "framework" for a in self.plan.actions)
        return self.plan.warnings + device_warnings(self.facts, self.device, framework_stopped=stopping)

    @property
    def payload_prefix(self) -> tuple[str, ...]:
        return ("taskset", self.plan.pin_mask) if self.plan.pin_mask else ()

    def describe(self) -> dict[str, Any]:
        """What devbench does to the device, for results.json."""
        return {
            "root": self.root.method,
            "pinned": list(self.plan.pinned) if self.plan.pinned else None,
            "actions": [{"setting": a.setting, "value": a.value, "why": a.why} for a in self.plan.actions],
            "locked_khz": self.plan.locked_khz,
            "journal": journal_path(self.target.workdir),
            "sysfs": self.device.sysfs,
            "procfs": self.device.procfs,
        }

    @contextlib.contextmanager
    def tuned(self, record: Callable[[list[Change]], None], warn: Callable[[str], None],
              restore_failed: Callable[[str], None]) -> Iterator[Tuner]:
        me = Owner.me()
        journal = Journal(self.run_id, socket.gethostname(), me.pid, self.started,
                          self.device.sysfs, self.device.procfs, self.root.prefix, pid_start=me.start, boot_id=me.boot)
        tuner = Tuner(
            DeviceAccess(self.target, self.root.prefix),
            journal_path(self.target.workdir),
            journal,
            warn=warn,
            record=record,
            boot_timeout_s=self.device.boot_timeout_s,
            restore_failed=restore_failed,
        )
        with tuned(tuner, self.plan):
            yield tuner

    def sample(self, when: str) -> None:
        """Read clocks and temperatures (between payload processes only; kept when the
        device has either)."""
        try:
            reading = sample(self.target, self.device.sysfs, when)
        except TargetError:
            reading = None
        if reading is not None and (reading["freq_khz"] or reading["temp_mc"]):
            self.samples.append(reading)

    def throttle_warnings(self) -> list[str]:
        return throttle_warnings(self.samples, self.plan.locked_khz, self.facts)
