"""The report's plots as inline SVG: distributions per arm, fork time over the run, and the
change with its CI per row. One small figure per scenario, so a page can lay them out side
by side on a wide screen and one under another on a phone."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from devbench.analysis.model import Row
from devbench.analysis.samples import ArmData
from devbench.report.svg import label, new_figure, style, to_svg

COLORS = {"unnamed": "#4477aa", "named": "#cc6677", "A": "#4477aa", "B": "#cc6677"}
VERDICT_COLORS = {"slower": "#b2182b", "faster": "#2166ac", "no difference": "#4d4d4d", "inconclusive": "#b08000"}
PANEL = (3.4, 2.6)  # inches


def distribution(title: str, series: Mapping[str, ArmData], key: str) -> str:
    """Violins of every timed fork per series (arm or run), medians marked."""
    with style():
        fig = new_figure(*PANEL)
        ax = fig.add_subplot()
        names = [n for n, arm in series.items() if arm.forks.size > 1]
        if names:
            parts = ax.violinplot([series[n].forks for n in names], showmedians=True, showextrema=True)
            for body, n in zip(parts["bodies"], names):
                body.set_facecolor(COLORS.get(n, "#777777"))
                body.set_alpha(0.6)
            for k in ("cmedians", "cmins", "cmaxes", "cbars"):
                parts[k].set_color("#333333")
                parts[k].set_linewidth(0.8)
        ax.set_xticks(range(1, len(names) + 1), [label(n) for n in names])
        ax.set_title(label(title))
        ax.set_ylabel("fork time (ms)")
        return to_svg(fig, f"Distribution of fork times: {title}", key)


def timeline(title: str, series: Mapping[str, ArmData], key: str) -> str:
    """Every fork time in run order per series, with batch means: drift and throttling show."""
    with style():
        fig = new_figure(*PANEL)
        ax = fig.add_subplot()
        for n, arm in series.items():
            x = arm.forks
            if not x.size:
                continue
            color = COLORS.get(n, "#777777")
            ax.plot(np.arange(x.size), x, lw=0.4, alpha=0.5, color=color, label=label(n))
            start = 0
            for _, b in arm.batches:
                ax.hlines(b.mean(), start, start + b.size - 1, color=color, lw=1.8)
                start += b.size
        ax.set_title(label(title))
        ax.set_xlabel("fork, in run order")
        ax.set_ylabel("fork time (ms)")
        if any(arm.forks.size for arm in series.values()):
            ax.legend(loc="upper right", fontsize=7, frameon=False)
        return to_svg(fig, f"Fork time over the run: {title}", key)


def changes(rows: Sequence[Row], margin_pct: float, key: str, what: str) -> str:
    """Each row's change in % with its CI; the equivalence band shaded, zero marked."""
    shown = [r for r in rows if r.effect is not None]
    with style():
        fig = new_figure(5.0, 0.9 + 0.32 * max(len(shown), 1))
        ax = fig.add_subplot()
        ax.axvspan(-margin_pct, margin_pct, color="#dddddd", lw=0)
        ax.axvline(0.0, color="#444444", lw=0.8)
        for y, r in enumerate(shown):
            e = r.effect
            assert e is not None
            lo = e.ci_low_pct if e.ci_low_pct is not None else e.change_pct
            hi = e.ci_high_pct if e.ci_high_pct is not None else e.change_pct
            ax.errorbar([e.change_pct], [y], xerr=[[e.change_pct - lo], [hi - e.change_pct]], fmt="o", capsize=3, ms=4,
                        color=VERDICT_COLORS.get(r.verdict.kind, "#444444"))
        ax.set_yticks(range(len(shown)), [label(r.scenario + (f" ({r.arm})" if r.arm else "")) for r in shown])
        ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
        ax.set_xlabel(f"{what} (%), 95% CI; grey: ±{margin_pct:g}%")
        return to_svg(fig, f"{what} with its 95% confidence interval", key)
