"""What the steps of one target's run share: the progress display, the run's cancel flag, and
the target's run itself (its config, results, connection and lock)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from devbench.config import BenchmarkConfig, Config, TargetConfig
from devbench.device.lock import DeviceLock
from devbench.results.store import ResultsStore
from devbench.run.boots import Boot, boot_batches
from devbench.targets.base import Target


class Progress(Protocol):
    def target_started(self, target: str, total_forks: int) -> None: ...
    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None: ...
    def step(self, target: str, text: str) -> None: ...
    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None: ...
    def target_done(self, target: str, ok: bool, text: str) -> None: ...


class NoProgress:
    def target_started(self, target: str, total_forks: int) -> None: pass
    def plan(self, target: str, remaining: Mapping[str, int], estimated: bool = False) -> None: pass
    def step(self, target: str, text: str) -> None: pass
    def batch(self, target: str, scenario: str, arm: str, forks: int) -> None: pass
    def target_done(self, target: str, ok: bool, text: str) -> None: pass


class Cancelled(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM) while this target's worker was busy."""


class Cancel:
    """Shared by a run's workers. cancel() (from the main thread, on Ctrl-C or SIGTERM) marks the
    run interrupted and aborts every payload in flight; each worker then restores its device."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()

    def register(self, name: str, target: Target | None) -> None:
        with self._lock:
            if target is None:
                self._targets.pop(name, None)
            else:
                self._targets[name] = target

    def cancel(self) -> None:
        self.event.set()
        with self._lock:
            targets = list(self._targets.values())
        for t in targets:
            try:
                t.interrupt()
            except Exception:  # the worker sees the connection end either way
                pass

    def check(self) -> None:
        if self.event.is_set():
            raise Cancelled("interrupted")


@dataclass
class TargetRun:
    """One target's run, as its steps pass it on: what is configured, where results go, and
    what the steps so far have opened (the connection, the device lock)."""

    cfg: Config
    tcfg: TargetConfig
    store: ResultsStore
    progress: Progress
    cancel: Cancel
    resume: bool = False
    bench: BenchmarkConfig = field(init=False)  # the emulator smoke run may shrink it
    target: Target | None = None
    lock: DeviceLock | None = None
    lock_left: DeviceLock | None = None  # not released (the connection was lost): released on reconnect
    first_error: int = 0  # this target's errors are those from here on in store.data["errors"]
    boot: Boot | None = None  # one boot of a kernel of a target's kernels: (devbench.run.boots)

    def __post_init__(self) -> None:
        self.bench = self.cfg.benchmark
        self.first_error = len(self.store.data["errors"])

    @property
    def name(self) -> str:
        return self.tcfg.name

    @property
    def connected(self) -> Target:
        """The open connection (a step that needs one runs after connect)."""
        assert self.target is not None, "a step that needs the device ran before connect"
        return self.target

    @property
    def label(self) -> str | None:
        """What names this boot's files in the run folder (None: the target's name)."""
        return None if self.boot is None else self.boot.label(self.name)

    def done(self, vmas: int | None, scenario: str, arm: str) -> dict[int, int]:
        """{batch: forks recorded} of this target (this boot of it) at one VMA count, as the
        payload numbers them."""
        return boot_batches(self.store.batches_done(self.name, scenario, arm, vmas), self.boot, self.bench.batches)

    def say(self, text: str) -> None:
        """A progress line of this target."""
        self.progress.step(self.name, text)

    def warn(self, message: str) -> None:
        self.store.warn(self.name, message)
