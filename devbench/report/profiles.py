"""The profile part of the report: per target its differential profile beside its table
(the ranked functions, the "attributed to" sentence and the pooled differential flame graph),
and per scenario the differential table, top symbols per arm and flame graphs, from the folded
stacks kept in results.json."""

from __future__ import annotations

from collections import Counter
from typing import Any

from markupsafe import Markup

from devbench.profile import diff_flamegraph_svg, diff_symbols, flamegraph_svg, top_symbols
from devbench.profile.attribution import attribute
from devbench.report.differential import Differential, same_forks, target_differential
from devbench.results.rows import record_vmas, run_vmas, swept, with_vmas

TOP = 25


def differential_view(data: dict[str, Any], target: str) -> dict[str, Any] | None:
    """The target's differential profile for the HTML, beside its table; None without profiles."""
    d = target_differential(data, target)
    return None if d is None else view_of(d)


def view_of(d: Differential) -> dict[str, Any]:
    """differential_view of a differential already computed."""
    target, a = d.target, d.attribution
    title = f"{target}: named vs unnamed ({', '.join(d.pooled) or 'no scenario with both arms'})"
    return {"scope": ", ".join(d.pooled), "status": a.status, "sentence": a.sentence, "sampling": d.sampling,
            "samples": (a.unnamed_samples, a.named_samples), "rows": [g.to_json() for g in a.growth],
            "svg": Markup(diff_flamegraph_svg(d.stacks["named"], d.stacks["unnamed"], title=title))
            if a.unnamed_samples and a.named_samples else None,
            "by_scenario": {c.label: c.attribution.sentence for c in d.cases}}


def profile_views(data: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """Per VMA count and scenario (named "SCENARIO @ N VMAs" when the profiles span several counts)."""
    by_scenario: dict[tuple[int | None, str], dict[str, dict[str, Any]]] = {}
    default = run_vmas(data)
    for p in data.get("profiles", []) or []:
        if p.get("target") == target and isinstance(p.get("folded"), dict):
            by_scenario.setdefault((record_vmas(p, default), str(p.get("scenario"))), {})[str(p.get("arm"))] = p
    sweep = swept(v for v, _ in by_scenario)
    views = []
    for (vmas, name), arms in by_scenario.items():
        scenario = with_vmas(name, vmas, sweep)
        folded = {arm: Counter({str(k): int(v) for k, v in p["folded"].items()}) for arm, p in arms.items()}
        first = next(iter(arms.values()))
        view: dict[str, Any] = {
            "scenario": scenario,
            "how": f"{first.get('tool')} · {first.get('event')} · call graph {first.get('call_graph')} · "
            f"{first.get('frequency')} Hz · {first.get('forks')} profiled forks per arm",
            "arms": {
                arm: {
                    "stats": p.get("stats", {}),
                    "fork_path_samples": p.get("fork_path_samples"),
                    "payload_samples": p.get("payload_samples"),
                    "system_wide": p.get("system_wide"),
                    "files": p.get("files", {}),
                    "top": top_symbols(folded[arm], arm=arm, top=15, sort_by="inclusive").to_json(),
                    "svg": Markup(flamegraph_svg(folded[arm], title=f"{scenario}: {arm} arm (fork and exit paths)")),
                }
                for arm, p in arms.items()
            },
            "diff": None,
            "diff_svg": None,
            "attribution": None,
        }
        if "unnamed" in folded and "named" in folded:
            view["attribution"] = attribute(folded["unnamed"], folded["named"],
                                            same_forks=same_forks(arms.values())).sentence
            view["diff"] = diff_symbols(folded["unnamed"], folded["named"], top=TOP).to_json()
            view["diff_svg"] = Markup(diff_flamegraph_svg(folded["named"], folded["unnamed"],
                                                          title=f"{scenario}: named vs unnamed"))
        views.append(view)
    if len(views) == 1:  # the target's own sentence, beside its table, is this one
        views[0]["attribution"] = None
    return views
