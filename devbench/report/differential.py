"""Each target's differential profile (named − unnamed) where its table is read: the
functions whose share grows, ranked, and the "attributed to" sentence
(devbench.profile.attribution), for the text, markdown, JSON and HTML outputs.

A target is one kernel: a run comparing kernels has one target per kernel, so each kernel's
table gets its own. The target's scenarios (and VMA counts) are pooled per arm: each was
profiled with the same forks in both arms, so the pool weighs the arms alike; a scenario with
one arm profiled stays out of the pool. Each scenario's own attribution is in the JSON and
under its profile in the HTML. Pure: results.json's data in, data and text out.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devbench.profile.attribution import Attribution, attribute, event_note
from devbench.report.table import SAY, WIDTH, draw, wrapped
from devbench.results.rows import record_vmas, run_vmas, swept, vmas_field, with_vmas

ARMS = ("unnamed", "named")
HEADER = ("function", "unnamed → named", "points", "z", "called from")  # self shares; growth in points
NAME_WIDTH = 28  # a function's name in the text table, longer ones cut with "…" (the JSON has it whole)


@dataclass(frozen=True)
class Case:
    """One scenario at one VMA count, and its own attribution."""

    vmas: int | None
    scenario: str
    label: str                          # as the report names it ("1 page", "1 page @ 4096 VMAs")
    pooled: bool                        # both arms profiled: in the target's pool
    attribution: Attribution

    def to_json(self) -> dict[str, Any]:
        return {**vmas_field(self.vmas), "scenario": self.scenario, "pooled": self.pooled,
                **self.attribution.to_json()}


@dataclass(frozen=True)
class Differential:
    target: str
    sampling: dict[str, Any]            # tool, event, frequency, clock, and what one sample is (note)
    attribution: Attribution            # of every scenario with both arms, pooled
    cases: tuple[Case, ...]
    stacks: dict[str, Counter[str]]     # the pooled folded stacks per arm (for the flame graph)

    @property
    def pooled(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.cases if c.pooled)

    def to_json(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "scenarios_pooled": list(self.pooled), **self.attribution.to_json(),
                "by_scenario": [c.to_json() for c in self.cases]}


def _folded(record: dict[str, Any]) -> Counter[str]:
    return Counter({str(k): int(v) for k, v in record["folded"].items()
                    if isinstance(v, int) and not isinstance(v, bool) and v > 0})


def same_forks(records: Iterable[dict[str, Any]]) -> bool:
    """Whether profile records profiled the same number of forks (a results file's value, any type)."""
    return len({repr(r.get("forks")) for r in records}) == 1


def _clock(data: dict[str, Any], target: str) -> Any:
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == target), {})
    info = rec.get("transport_info")
    return info.get("clock") if isinstance(info, dict) else None


def target_differential(data: dict[str, Any], target: str) -> Differential | None:
    """The target's differential profile; None when it has no profiles."""
    default = run_vmas(data)
    cases: dict[tuple[int | None, str], dict[str, dict[str, Any]]] = {}
    for p in data.get("profiles") or []:
        if isinstance(p, dict) and p.get("target") == target and isinstance(p.get("folded"), dict) \
                and p.get("arm") in ARMS:
            cases.setdefault((record_vmas(p, default), str(p.get("scenario"))), {})[str(p["arm"])] = p
    if not cases:
        return None
    sweep = swept(v for v, _ in cases)
    pool = {arm: Counter[str]() for arm in ARMS}
    same, found = True, []
    for (vmas, scenario), arms in cases.items():
        folded = {arm: _folded(arms[arm]) if arm in arms else None for arm in ARMS}
        forks_alike = same_forks(arms.values())
        both = len(arms) == len(ARMS)
        found.append(Case(vmas, scenario, with_vmas(scenario, vmas, sweep), both,
                          attribute(folded["unnamed"], folded["named"], same_forks=forks_alike)))
        if both:
            same = same and forks_alike
            for arm in ARMS:
                pool[arm].update(folded[arm] or {})
    if any(c.pooled for c in found):
        whole = attribute(pool["unnamed"], pool["named"], same_forks=same)
    else:  # no scenario with both arms: which arm there is (None, None: each in other scenarios)
        seen = {a for arms in cases.values() for a in arms}
        only = {arm: sum((_folded(arms[arm]) for arms in cases.values() if arm in arms), Counter[str]())
                for arm in seen} if len(seen) == 1 else {}
        whole = attribute(only.get("unnamed"), only.get("named"))
    first = next(iter(next(iter(cases.values())).values()))
    tool, event, frequency, clock = first.get("tool"), first.get("event"), first.get("frequency"), _clock(data, target)
    sampling = {"tool": tool, "event": event, "frequency": frequency, "clock": clock,
                "note": event_note(tool, event, frequency, clock)}
    return Differential(target, sampling, whole, tuple(found), pool)


def _name(function: str) -> str:
    return function if len(function) <= NAME_WIDTH else function[:NAME_WIDTH - 1] + "…"


def growth_cells(a: Attribution, markdown: bool) -> list[tuple[str, ...]]:
    cut = (lambda f: f.replace("|", "\\|")) if markdown else _name  # a name never ends a cell
    return [(cut(g.function), f"{g.unnamed_pct:.2f}% → {g.named_pct:.2f}%", f"{g.points:+.2f}", f"{g.z:+.1f}",
             cut(g.called_from or "-")) for g in a.growth]


def heading(d: Differential) -> str:
    scope = ("no scenario with both arms profiled" if not d.pooled else d.pooled[0] if len(d.pooled) == 1 else
             f"{len(d.pooled)} scenarios pooled")
    a = d.attribution
    return (f"Differential profile, named − unnamed ({scope}; self shares of {a.unnamed_samples} unnamed and "
            f"{a.named_samples} named samples on the fork and exit paths):")


def differential_lines(data: dict[str, Any], target: str, markdown: bool, side: str = "") -> list[str]:
    """The block under a target's table: a heading, the ranked functions, the sentence and
    what a sample was. side: what the heading starts with (compare: "Run A, phone (kernel K): ")."""
    d = target_differential(data, target)
    return [] if d is None else block_lines(d, markdown, side)


def block_lines(d: Differential, markdown: bool, side: str = "") -> list[str]:
    """differential_lines of a differential already computed."""
    head = side + heading(d)
    out = ["", head] if markdown else ["", *textwrap.wrap(head, WIDTH)]
    if d.attribution.growth:
        out += ["", *draw(HEADER, growth_cells(d.attribution, markdown), markdown)]
    out += wrapped([d.attribution.sentence, f"sampled with {d.sampling['note']}."], SAY, markdown)
    return out


@dataclass(frozen=True)
class SideProfile:
    """`compare`: one side's differential profile of a target pairing (where that run profiled)."""

    side: str                           # "A" or "B"
    target: str
    kernel: str | None
    differential: Differential

    def label(self) -> str:
        return f"Run {self.side}, {self.target}" + (f" (kernel {self.kernel})" if self.kernel else "")

    def to_json(self) -> dict[str, Any]:
        return {"side": self.side.lower(), "target": self.target, "kernel": self.kernel,
                **self.differential.to_json()}


def compare_profiles(pair: Any, data_a: dict[str, Any], data_b: dict[str, Any]) -> list[SideProfile]:
    """Both sides' differential profiles of a comparison's target pairing (the first run of each
    side), A's then B's: where each kernel's named arm spends its extra samples."""
    from devbench.analysis.kernels import kernel_label

    out = []
    for side, data, target, kernel in (("A", data_a, pair.target_a, pair.kernel_a),
                                       ("B", data_b, pair.target_b, pair.kernel_b)):
        d = target_differential(data, target)
        if d is not None:
            out.append(SideProfile(side, target, kernel or kernel_label(data, target), d))
    return out


def compare_profile_lines(pair: Any, data_a: dict[str, Any], data_b: dict[str, Any], markdown: bool) -> list[str]:
    """Under a pairing's compare table: each side's differential profile, headed by its run and kernel."""
    return [ln for sp in compare_profiles(pair, data_a, data_b)
            for ln in block_lines(sp.differential, markdown, side=f"{sp.label()}: ")]
