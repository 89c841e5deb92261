"""The child's exit (`exit_ns`: release to waitpid return, per fork; schema 2) for the report's
table and plots (pure). Descriptive only: the verdict is the fork's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devbench.analysis.samples import ARMS, ArmData
from devbench.analysis.stats import describe, regression_pct
from devbench.results.rows import record_vmas, run_vmas


@dataclass(frozen=True)
class ExitScenario:
    scenario: str
    arms: dict[str, ArmData]  # "unnamed"/"named": exit times in ms, batch by batch
    unnamed_mean_ms: float | None
    named_mean_ms: float | None
    n: tuple[int, int]
    vmas: int | None = None

    @property
    def change_pct(self) -> float | None:
        return regression_pct(self.unnamed_mean_ms, self.named_mean_ms)


def exit_scenarios(data: dict[str, Any], target: str) -> list[ExitScenario]:
    """Per VMA count and scenario of `target` with exit times (in the order the samples were taken)."""
    per: dict[tuple[int | None, str], dict[str, list[tuple[int, list[int]]]]] = {}
    default = run_vmas(data)
    for s in data.get("samples", []):
        if s.get("target") != target or not s.get("exit_ns"):
            continue
        key = (record_vmas(s, default), s["scenario"])
        per.setdefault(key, {a: [] for a in ARMS})[s["arm"]].append((int(s.get("batch", 0)), s["exit_ns"]))
    out = []
    for (vmas, scenario), arms in per.items():
        data_arms = {a: ArmData.of_batches(sorted(b, key=lambda x: x[0])) for a, b in arms.items()}
        un, na = (describe([v for _, b in arms[a] for v in b]) for a in ARMS)
        out.append(ExitScenario(scenario, data_arms, un["mean_ms"], na["mean_ms"],
                                (int(un["n"] or 0), int(na["n"] or 0)), vmas))
    return out
