"""Fork times out of a results.json dict, grouped per target, VMA count, scenario and arm (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np

from devbench.results.rows import RowKey, row_key, run_vmas

ARMS = ("unnamed", "named")


@dataclass(frozen=True)
class ArmData:
    """One arm's timed forks in milliseconds, batch by batch in batch order."""

    batches: tuple[tuple[int, np.ndarray], ...]  # (batch number, fork times ms)
    untimed_warmup: int = 0                     # warm-up forks run before the batches, never timed

    @classmethod
    def of_batches(cls, batches: list[tuple[int, list[int]]], untimed_warmup: int = 0) -> ArmData:
        """From (batch number, fork times in ns) in batch order: one array of every fork in ms,
        each batch a view into it (the samples are held once, never copied per use)."""
        sizes = [len(v) for _, v in batches]
        forks = np.fromiter(chain.from_iterable(v for _, v in batches), dtype=np.float64, count=sum(sizes))
        forks /= 1e6
        views = np.split(forks, np.cumsum(sizes)[:-1]) if sizes else []
        arm = cls(tuple((n, view) for (n, _), view in zip(batches, views, strict=False)), untimed_warmup)
        arm.__dict__["forks"] = forks  # the cached_property's value: the batches' common array
        return arm

    @cached_property
    def forks(self) -> np.ndarray:
        """Every timed fork in batch order (computed once)."""
        if not self.batches:
            return np.empty(0)
        return np.concatenate([b for _, b in self.batches])

    @property
    def batch_numbers(self) -> tuple[int, ...]:
        return tuple(n for n, _ in self.batches)

    def batch_means(self, numbers: tuple[int, ...] | None = None) -> np.ndarray:
        pick = dict(self.batches)
        return np.array([pick[n].mean() for n in (numbers or self.batch_numbers) if pick[n].size])

    def only(self, numbers: tuple[int, ...]) -> ArmData:
        """The same arm restricted to these batch numbers (every number of a row from the same data)."""
        keep = set(numbers)
        if keep >= set(self.batch_numbers):
            return self
        return ArmData(tuple((n, b) for n, b in self.batches if n in keep), self.untimed_warmup)


METRICS = {"fork": "fork_ns", "exit": "exit_ns"}  # fork: the parent's fork(); exit: the child's exit (schema 2)


@dataclass(frozen=True)
class ScenarioData:
    target: str
    scenario: str
    pages: int | None
    arms: dict[str, ArmData]
    alternating: bool = True  # each batch's two arms ran next to each other in time (see alternating())
    vmas: int | None = None   # the VMA count (a sweep has one ScenarioData per count)

    @property
    def key(self) -> RowKey:
        return RowKey(self.target, self.vmas, self.scenario)


def _arm(records: list[dict[str, Any]], key: str = "fork_ns") -> ArmData:
    by_batch: dict[int, list[list[int]]] = {}
    for s in records:
        by_batch.setdefault(int(s.get("batch", 0)), []).append(s.get(key) or [])
    batches = [(n, list(chain.from_iterable(parts))) if len(parts) > 1 else (n, parts[0])
               for n, parts in sorted(by_batch.items())]
    return ArmData.of_batches([(n, v) for n, v in batches if v], sum(int(s.get("warmup", 0) or 0) for s in records))


def scenario_pages(data: dict[str, Any]) -> dict[str, int | None]:
    scenarios = ((data.get("run") or {}).get("config") or {}).get("benchmark", {}) or {}
    return {sc["name"]: sc.get("pages") for sc in scenarios.get("scenarios") or []
            if isinstance(sc, dict) and isinstance(sc.get("name"), str)}


def is_interleaved(data: dict[str, Any]) -> bool:
    """Both arms in one process, alternating batches: the config's mode (interleaved by default)."""
    bench = ((data.get("run") or {}).get("config") or {}).get("benchmark") or {}
    return bench.get("mode", "interleaved") == "interleaved"


def alternating(sequence: list[tuple[str, int]]) -> bool:
    """Whether every batch measured in both arms had its two arms next to each other in the
    order the samples were recorded (sequence: (arm, batch) in recording order). True for
    interleaved runs and for separate runs planned as alternating processes (ABBA); False for
    a separate run that measured one arm after the other (the seed's order): there a batch's
    two arms lie far apart in time and pairing them would not cancel drift."""
    slots: dict[int, dict[str, list[int]]] = {}
    for pos, (arm, batch) in enumerate(dict.fromkeys(sequence)):
        slots.setdefault(batch, {}).setdefault(arm, []).append(pos)
    pairs = [(min(v["unnamed"]), min(v["named"])) for v in slots.values() if len(v) == 2]
    return all(abs(u - n) == 1 for u, n in pairs)


def group(data: dict[str, Any], metric: str = "fork") -> list[ScenarioData]:
    """Per target, VMA count and scenario (devbench.results.rows.RowKey), in the order the
    samples were taken. metric: "fork" (fork_ns) or "exit" (exit_ns, the child's exit; empty
    arms where a schema-1 file has none)."""
    field = METRICS[metric]
    records: dict[RowKey, dict[str, list[dict[str, Any]]]] = {}
    order: dict[RowKey, list[tuple[str, int]]] = {}
    default = run_vmas(data)
    for s in data.get("samples", []):
        key = row_key(s, default)
        records.setdefault(key, {arm: [] for arm in ARMS})[s["arm"]].append(s)
        order.setdefault(key, []).append((s["arm"], int(s.get("batch", 0))))
    pages = scenario_pages(data)
    return [ScenarioData(k.target, k.scenario, pages.get(k.scenario),
                         {arm: _arm(recs, field) for arm, recs in arms.items()}, alternating(order[k]), k.vmas)
            for k, arms in records.items()]


def targets_in(data: dict[str, Any]) -> list[str]:
    """Target names: the run's records first, then any that only have samples."""
    names = [t["name"] for t in data.get("targets", [])]
    for s in data.get("samples", []):
        if s["target"] not in names:
            names.append(s["target"])
    return names
