"""The sweep's figures as inline SVG, drawn by hand (devbench.report.svg): the time the named
arm adds per fork, in µs and in %, against the VMA count on a log scale; one line per
scenario, each point with its 95% CI; 4096 VMAs (the seed's Android processes) marked.
Under icount the time axis says it is instruction-path cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from devbench.analysis.sweep import ANDROID_VMAS, SweepPoint, SweepSeries
from devbench.report import svg
from devbench.report.sweep import fmt_ci_us, fmt_us
from devbench.report.table import fmt_ci, fmt_pct

SIZE = (400, 280)
TOP, BOTTOM, RIGHT = 40, 44, 14
PALETTE = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb")
LEGEND_SIZE = 9


def _value(p: SweepPoint, unit: str) -> tuple[float | None, tuple[float, float] | None]:
    return (p.added_us, p.added_ci_us) if unit == "us" else (p.change_pct, p.ci_pct)


def count_ticks(counts: Sequence[int], ax: svg.Axes) -> list[tuple[float, str]]:
    """Ticks at the measured counts (log2 positions), a label left out where it would overlap the last."""
    out: list[tuple[float, str]] = []
    last = -math.inf
    for c in sorted(set(counts)):
        x = ax.x(math.log2(c))
        label = str(c)
        out.append((math.log2(c), label if x - last >= svg.text_width(label) + 4 else ""))
        if out[-1][1]:
            last = x
    return out


def _mark_android(ax: svg.Axes, lo: float, hi: float) -> list[str]:
    """A dashed line at 4096 VMAs when the sweep spans it."""
    v = math.log2(ANDROID_VMAS)
    if not lo <= v <= hi:
        return []
    x = ax.x(v)
    return [svg.tag("line", x1=x, y1=ax.top, x2=x, y2=ax.bottom, stroke="#999999", stroke_dasharray="4 3"),
            svg.text(x + 3, ax.top + 10, f"{ANDROID_VMAS} (seed: Android)", font_size=LEGEND_SIZE, fill="#666666")]


def _series(ax: svg.Axes, s: SweepSeries, color: str, unit: str) -> str:
    """One scenario: a line through its points, each with its CI as a bar with caps."""
    parts, xs, ys = [], [], []
    for p in s.points:
        v, ci = _value(p, unit)
        x = ax.x(math.log2(p.vmas))
        if ci is not None and all(math.isfinite(c) for c in ci):
            lo, hi = svg.num(ax.y(ci[0])), svg.num(ax.y(ci[1]))
            cx = svg.num(x - 3)
            parts.append(svg.tag("path", d=f"M{svg.num(x)},{lo}V{hi}M{cx},{lo}h6M{cx},{hi}h6", fill="none",
                                 stroke=color, stroke_width=1.1))
        if v is not None and math.isfinite(v):
            xs.append(x)
            ys.append(ax.y(v))
            text = (f"{fmt_us(p.added_us)}/fork, 95% CI {fmt_ci_us(p.added_ci_us)} µs" if unit == "us" else
                    f"{fmt_pct(p.change_pct)}, 95% CI {fmt_ci(*p.ci_pct) if p.ci_pct else '-'}")
            parts.append(svg.group(f"{s.scenario}, {p.vmas} VMAs: {text}, {p.verdict}",
                                   svg.tag("circle", cx=x, cy=ax.y(v), r=3, fill=color)))
    line = svg.tag("polyline", points=" ".join(f"{svg.num(x)},{svg.num(y)}" for x, y in zip(xs, ys, strict=True)),
                   fill="none", stroke=color, stroke_width=1.2) if len(xs) > 1 else ""
    return line + "".join(parts)


def _legend(ax: svg.Axes, names: Sequence[str]) -> list[str]:
    out, x, y = [], ax.right, ax.top - 6
    for i, n in reversed(list(enumerate(names))):
        s = svg.fit(n, 90)
        x -= svg.text_width(s) * LEGEND_SIZE / svg.FONT_SIZE
        out.append(svg.text(x, y, s, font_size=LEGEND_SIZE))
        out.append(svg.tag("line", x1=x - 16, y1=y - 3, x2=x - 3, y2=y - 3, stroke=PALETTE[i % len(PALETTE)],
                           stroke_width=2))
        x -= 26
    return out


def sweep_figure(all_series: Sequence[SweepSeries], unit: str, clock: str | None = None,
                 margin_pct: float = 1.0) -> str:
    """unit "us": the added time per fork in µs; "pct": the change in % with the ±margin band
    shaded. The x axis is the VMA count on a log scale."""
    icount = clock == "icount"
    what = "instruction-path cost" if icount else "time"
    title = (f"Added {what} per fork{' (icount)' if icount else ''}" if unit == "us"
             else "REGRESSION, named vs unnamed")
    label = f"{title} against the VMA count (log scale), per scenario, with 95% CIs"
    counts = [p.vmas for s in all_series for p in s.points]
    values = [v for s in all_series for p in s.points
              for v in (_value(p, unit)[0], *(_value(p, unit)[1] or ())) if v is not None]
    if not counts or not svg.finite(values).size:
        return svg.no_data(*SIZE, label, title)
    margin = abs(margin_pct) if unit == "pct" and math.isfinite(margin_pct) else 0.0
    y_ticks = svg.value_ticks(values + [0.0] + ([-margin, margin] if margin else []))
    w, h = SIZE
    lo, hi = math.log2(min(counts)), math.log2(max(counts))
    pad = max((hi - lo) * 0.06, 0.5)
    left = svg.left_margin((s for _, s in y_ticks), titled=True)
    ax = svg.Axes(svg.Scale(lo - pad, hi + pad, left, w - RIGHT),
                  svg.Scale(y_ticks[0][0], y_ticks[-1][0], h - BOTTOM, TOP))
    band = [svg.tag("rect", x=ax.left, y=ax.y(margin), width=ax.width, height=ax.y(-margin) - ax.y(margin),
                    fill="#e4e4e4")] if margin else []
    y_title = ("µs per fork, icount" if icount else "µs per fork") if unit == "us" else "% of unnamed"
    names = [s.scenario for s in all_series]
    return svg.figure(w, h, label, [
        svg.heading(w, title),
        *band,
        svg.tag("line", x1=ax.left, y1=ax.y(0.0), x2=ax.right, y2=ax.y(0.0), stroke="#888888", stroke_width=0.6),
        *_mark_android(ax, lo - pad, hi + pad),
        *svg.y_axis(ax, y_ticks, y_title),
        *svg.x_axis(ax, count_ticks(counts, ax), "VMAs (log scale)"),
        *(_series(ax, s, PALETTE[i % len(PALETTE)], unit) for i, s in enumerate(all_series)),
        *_legend(ax, names),
    ])
