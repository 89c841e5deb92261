"""The profile part of the report: per target and scenario, the differential table, top
symbols per arm and flame graphs, from the folded stacks kept in results.json."""

from __future__ import annotations

from collections import Counter
from typing import Any

from markupsafe import Markup

from devbench.profile import diff_flamegraph_svg, diff_symbols, flamegraph_svg, top_symbols
from devbench.results.rows import record_vmas, run_vmas, swept, with_vmas

TOP = 25


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
        }
        if "unnamed" in folded and "named" in folded:
            view["diff"] = diff_symbols(folded["unnamed"], folded["named"], top=TOP).to_json()
            view["diff_svg"] = Markup(diff_flamegraph_svg(folded["named"], folded["unnamed"],
                                                          title=f"{scenario}: named vs unnamed"))
        views.append(view)
    return views
