"""The report's plots as inline SVG, drawn by hand (devbench.report.svg): distributions per arm,
fork time over the run, and the change with its CI per row. One small figure per scenario, so
a page can lay them out side by side on a wide screen and one under another on a phone.

`key` is unique per page; the figures have no ids, so they need nothing made unique with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from devbench.analysis.model import Effect, Row
from devbench.analysis.samples import ArmData
from devbench.report import svg
from devbench.report.headline import row_name
from devbench.report.table import fmt_ci, fmt_pct
from devbench.results.rows import swept

COLORS = {"unnamed": "#4477aa", "named": "#cc6677", "A": "#4477aa", "B": "#cc6677"}
VERDICT_COLORS = {"slower": "#b2182b", "faster": "#2166ac", "no difference": "#4d4d4d", "inconclusive": "#b08000"}
OTHER_COLOR = "#777777"
PANEL = (340, 250)            # viewBox units; the page's CSS scales the figure to its column
PANEL_TOP, PANEL_BOTTOM = 28, 40
LEGEND_H, LEGEND_SIZE = 12, 9
KDE_BINS = 128
VIOLIN_HALF = 0.4             # half the widest violin, in category units (1 apart)
ENVELOPE_ABOVE = 2.0          # points per viewBox unit of plot width above which a trace is an envelope
CHANGES_W, ROW_H = 440, 26


def _color(name: str) -> str:
    return COLORS.get(name, OTHER_COLOR)


def _ms_ticks(arrays: Sequence[np.ndarray]) -> list[tuple[float, str]]:
    return svg.value_ticks([v for a in arrays for v in (a.min(), a.max())])


def _panel(x: tuple[float, float], y_ticks: list[tuple[float, str]], top: float = PANEL_TOP,
           right: float = 16) -> svg.Axes:
    w, h = PANEL
    left = svg.left_margin((s for _, s in y_ticks), titled=True)
    return svg.Axes(svg.Scale(*x, left, w - right), svg.Scale(y_ticks[0][0], y_ticks[-1][0], h - PANEL_BOTTOM, top))


def time_title(what: str, clock: str | None, short: bool = False) -> str:
    """A time axis's title: under icount a time counts guest instructions (1 ns each), not
    what a device takes (devbench.targets.qemu.ICOUNT_NOTE). short: for a lower plot area."""
    if clock == "icount":
        return "instr. time, icount (ms)" if short else "instruction time, icount (ms)"
    return f"{what} time (ms)"


def _pct_labels(y_ticks: list[tuple[float, str]], ref: float) -> list[str]:
    """The y ticks as a change from ref in %, with a decimal more than their step needs (the
    ms ticks are round, their % are not: "+0.27%", "+0.82%")."""
    pct = [(v / ref - 1) * 100 for v, _ in y_ticks]
    decimals = max(0, 1 - math.floor(math.log10(abs(pct[1] - pct[0])))) if pct[1] != pct[0] else 1
    labels = [f"{p:+.{decimals}f}" for p in pct]
    return [("0" if float(s) == 0 else s) + "%" for s in labels]


def _pct_axis(ax: svg.Axes, y_ticks: list[tuple[float, str]], ref: float, name: str) -> list[str]:
    """A second y axis on the right: the same ticks as a change from `name`'s median in %, the
    scale of the regression, so that a truncated ms axis does not pass for a large change."""
    out = [svg.tag("line", x1=ax.right, y1=ax.top, x2=ax.right, y2=ax.bottom, stroke=svg.INK)]
    for (v, _), s in zip(y_ticks, _pct_labels(y_ticks, ref), strict=True):
        y = ax.y(v)
        out += [svg.tag("line", x1=ax.right, y1=y, x2=ax.right + 4, y2=y, stroke=svg.INK),
                svg.text(ax.right + 6, y + 4, s, text_anchor="start")]
    cx, cy = PANEL[0] - 6, (ax.top + ax.bottom) / 2
    out.append(svg.text(cx, cy, f"% of {name}'s median", text_anchor="middle", font_size=LEGEND_SIZE,
                        transform=f"rotate(90 {svg.num(cx)} {svg.num(cy)})"))
    return out


def axis_break(ax: svg.Axes, lowest: float) -> list[str]:
    """Two slanted strokes across the foot of the y axis when it does not start at zero."""
    if lowest <= 0:
        return []
    x, y = ax.left, ax.bottom - 8
    gap = svg.tag("rect", x=x - 6, y=y - 3, width=12, height=5, fill="white")
    marks = svg.tag("path", d=f"M{svg.num(x - 6)},{svg.num(y + 2)}l12,-4M{svg.num(x - 6)},{svg.num(y - 1)}l12,-4",
                    stroke=svg.INK, stroke_width=1, fill="none")
    return [gap, marks]


# -- distribution ---------------------------------------------------------------------------

def density(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian kernel density estimate of x (finite, at least 2 values) on a grid over its
    range: a histogram of KDE_BINS bins smoothed with a Gaussian of Scott's bandwidth (as
    scipy's gaussian_kde, to within a bin, at a fraction of its cost). All values equal: the
    grid is that value twice, the density flat."""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.array([lo, hi]), np.ones(2)
    counts, edges = np.histogram(x, bins=KDE_BINS, range=(lo, hi))
    sigma = x.std(ddof=1) * x.size ** -0.2 / (edges[1] - edges[0])  # Scott's bandwidth, in bins
    half = int(np.ceil(4 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return (edges[:-1] + edges[1:]) / 2, np.convolve(counts, kernel)[half:half + KDE_BINS]


def _violin(ax: svg.Axes, center: float, name: str, x: np.ndarray) -> str:
    """The density mirrored around center, the median as a bar, min to max as a whisker."""
    grid, dens = density(x)
    half, ys = VIOLIN_HALF * dens / dens.max(), ax.y(grid)
    outline = svg.points(
        np.concatenate([ax.x(center - half), ax.x(center + half)[::-1]]), np.concatenate([ys, ys[::-1]])
    )
    color, lo, hi, med = _color(name), float(x.min()), float(x.max()), float(np.median(x))
    cap_x, cap_w = svg.num(ax.x(center - 0.1)), svg.num(ax.x(center + 0.1) - ax.x(center - 0.1))
    whisker = (f"M{svg.num(ax.x(center))},{svg.num(ax.y(lo))}V{svg.num(ax.y(hi))}"
               + "".join(f"M{cap_x},{svg.num(ax.y(v))}h{cap_w}" for v in (lo, hi)))
    return svg.group(
        f"{name}: {x.size} forks, median {med:.4g} ms, min {lo:.4g} ms, max {hi:.4g} ms",
        svg.tag("path", d=f"M{outline}Z", fill=color, fill_opacity=0.6, stroke=color, stroke_width=0.6),
        svg.tag("path", d=whisker, fill="none", stroke=svg.INK, stroke_width=0.8),
        svg.tag("line", x1=ax.x(center - 0.25), y1=ax.y(med), x2=ax.x(center + 0.25), y2=ax.y(med), stroke=svg.INK,
                stroke_width=1.2))


def distribution(title: str, series: Mapping[str, ArmData], key: str, what: str = "fork", clock: str | None = None,
                 why: str = "no data") -> str:
    """Violins of every timed fork per series (arm or run) with at least 2 forks: the shape of
    the distribution, its median as a bar, its min and max as whiskers. what: "fork", or
    "child exit" for the exit times (exit_ns). The y axis in ms is cut to the data (marked
    so), with the change from the first series' median in % on the right. why: what an empty
    figure says (a refused arm: its reason)."""
    label = f"Distribution of {what} times: {title}"
    shown = [(n, x) for n, x in ((n, svg.finite(arm.forks)) for n, arm in series.items()) if x.size > 1]
    if not shown:
        return svg.no_data(*PANEL, label, title, why)
    y_ticks = _ms_ticks([x for _, x in shown])
    ref_name, ref = shown[0][0], float(np.median(shown[0][1]))
    right = 30 + max(svg.text_width(s) for s in _pct_labels(y_ticks, ref)) if ref > 0 else 16
    ax = _panel((0.5, len(shown) + 0.5), y_ticks, right=right)
    return svg.figure(*PANEL, label, [
        svg.heading(PANEL[0], title if why == "no data" else f"{title}: {why}"),  # an arm refused: said, not left out
        *svg.y_axis(ax, y_ticks, time_title(what, clock)),
        *axis_break(ax, y_ticks[0][0]),
        *(_pct_axis(ax, y_ticks, ref, ref_name) if ref > 0 else []),
        *svg.x_axis(ax, [(i, svg.fit(n, ax.width / len(shown) - 4)) for i, (n, _) in enumerate(shown, 1)], None),
        *(_violin(ax, i, n, x) for i, (n, x) in enumerate(shown, 1)),
    ])


# -- timeline -------------------------------------------------------------------------------

def _trace(ax: svg.Axes, forks: np.ndarray, color: str) -> str:
    """Fork times against their index: a thin line, or with more than ENVELOPE_ABOVE points per
    unit of width the min-max envelope of each unit-wide column (every spike still shows)."""
    keep = np.isfinite(forks)
    px, py = ax.x(np.flatnonzero(keep).astype(np.float64)), ax.y(forks[keep])
    if px.size <= ENVELOPE_ABOVE * ax.width:
        return svg.tag("polyline", points=svg.points(px, py), fill="none", stroke=color, stroke_width=0.5,
                       stroke_opacity=0.6)
    column = np.minimum((px - ax.left).astype(np.int64), int(ax.width) - 1)  # px is ascending
    starts = np.flatnonzero(np.diff(column, prepend=-1))
    cx = ax.left + column[starts] + 0.5
    top, bottom = np.minimum.reduceat(py, starts), np.maximum.reduceat(py, starts)  # viewBox y grows down
    return svg.tag("polygon", points=svg.points(np.concatenate([cx, cx[::-1]]), np.concatenate([top, bottom[::-1]])),
                   fill=color, fill_opacity=0.35, stroke=color, stroke_width=0.4, stroke_opacity=0.6)


def _batch_means(ax: svg.Axes, arm: ArmData, color: str) -> str:
    """Each batch's mean as a thick segment across the batch's forks (a dot for a single fork)."""
    d, start = [], 0
    for _, b in arm.batches:
        x = svg.finite(b)
        if x.size:
            y = svg.num(ax.y(float(x.mean())))
            d.append(f"M{svg.num(ax.x(float(start)))},{y}H{svg.num(ax.x(float(start + b.size - 1)))}")
        start += b.size
    return svg.tag("path", d="".join(d), fill="none", stroke=color, stroke_width=1.8,
                   stroke_linecap="round") if d else ""


def _legend(ax: svg.Axes, names: Sequence[str]) -> list[str]:
    """Names with a swatch of their colour in a row above the plot area, flush right."""
    out, x, y = [], ax.right, ax.top - 6
    for n in reversed(names):
        s = svg.fit(n, 90)
        x -= svg.text_width(s) * LEGEND_SIZE / svg.FONT_SIZE
        out.append(svg.text(x, y, s, font_size=LEGEND_SIZE))
        out.append(svg.tag("line", x1=x - 16, y1=y - 3, x2=x - 3, y2=y - 3, stroke=_color(n), stroke_width=2))
        x -= 26
    return out


def timeline(title: str, series: Mapping[str, ArmData], key: str, clock: str | None = None,
             why: str = "no data") -> str:
    """Every fork time in run order per series, with batch means: drift and throttling show."""
    label = f"Fork time over the run: {title}"
    shown = [(n, arm) for n, arm in series.items() if svg.finite(arm.forks).size]
    if not shown:
        return svg.no_data(*PANEL, label, title, why)
    forks = [arm.forks for _, arm in shown]
    y_ticks = _ms_ticks([svg.finite(f) for f in forks])
    x_ticks = svg.value_ticks((0, max(f.size for f in forks) - 1), integer=True)
    ax = _panel((x_ticks[0][0], x_ticks[-1][0]), y_ticks, top=PANEL_TOP + LEGEND_H)
    parts = [svg.heading(PANEL[0], title if why == "no data" else f"{title}: {why}"),
             *svg.y_axis(ax, y_ticks, time_title("fork", clock, short=True)),
             *axis_break(ax, y_ticks[0][0]), *svg.x_axis(ax, x_ticks, "fork, in run order")]
    for (n, arm), f in zip(shown, forks, strict=False):
        parts += [_trace(ax, f, _color(n)), _batch_means(ax, arm, _color(n))]
    return svg.figure(*PANEL, label, parts + _legend(ax, [n for n, _ in shown]))


# -- changes --------------------------------------------------------------------------------

def _change_mark(ax: svg.Axes, y: float, r: Row, e: Effect, sweep: bool = False) -> str:
    """The change as a point, its CI (when both ends are known) as a bar with caps."""
    color = VERDICT_COLORS.get(r.verdict.kind, "#444444")
    vy, parts = ax.y(y), []
    ends = svg.finite([v for v in (e.ci_low_pct, e.ci_high_pct) if v is not None])
    if ends.size == 2:
        lo, hi = svg.num(ax.x(float(ends[0]))), svg.num(ax.x(float(ends[1])))
        top, h = svg.num(vy - 4), svg.num(8)
        parts.append(svg.tag("path", d=f"M{lo},{svg.num(vy)}H{hi}M{lo},{top}v{h}M{hi},{top}v{h}", fill="none",
                             stroke=color, stroke_width=1.2))
    change = svg.finite([e.change_pct] if e.change_pct is not None else [])
    if change.size:
        parts.append(svg.tag("circle", cx=ax.x(float(change[0])), cy=vy, r=3.5, fill=color))
    ci = f" {fmt_ci(float(ends[0]), float(ends[1]))}" if ends.size == 2 else ""
    text = f"{fmt_pct(float(change[0]))}{ci}" if change.size else "n/a"
    return svg.group(f"{row_name(r, sweep)}: {text}, {r.verdict.kind}", *parts)


def changes(rows: Sequence[Row], margin_pct: float, key: str, what: str) -> str:
    """Each row's change in % with its CI, one row under another; the equivalence band
    (±margin_pct) shaded grey, zero marked. Rows without an effect are left out."""
    shown = [(r, r.effect) for r in rows if r.effect is not None]
    height = 74 + ROW_H * max(len(shown), 1)
    label = f"{what} with its 95% confidence interval"
    if not shown:
        return svg.no_data(CHANGES_W, height, label, None)
    margin = abs(margin_pct) if np.isfinite(margin_pct) else 0.0
    values = [v for _, e in shown for v in (e.change_pct, e.ci_low_pct, e.ci_high_pct) if v is not None]
    x_ticks = svg.value_ticks(values + [0.0, -margin, margin])
    sweep = swept(r.vmas for r, _ in shown)  # a sweep: each row named with its VMA count
    labels = [row_name(r, sweep) for r, _ in shown]
    label_width = min(max(svg.text_width(s) for s in labels), 0.4 * CHANGES_W)
    ax = svg.Axes(svg.Scale(x_ticks[0][0], x_ticks[-1][0], label_width + 14, CHANGES_W - 16),
                  svg.Scale(-0.5, len(shown) - 0.5, 12, height - 44))
    band = [svg.tag("rect", x=ax.x(-margin), y=ax.top, width=ax.x(margin) - ax.x(-margin), height=ax.bottom - ax.top,
                    fill="#dddddd")] if margin else []
    return svg.figure(CHANGES_W, height, label, [
        *band,
        svg.tag("line", x1=ax.x(0.0), y1=ax.top, x2=ax.x(0.0), y2=ax.bottom, stroke="#444444", stroke_width=0.8),
        *svg.x_axis(ax, x_ticks, f"{what} (%), 95% CI; grey: ±{margin:g}%"),
        *svg.y_axis(ax, list(enumerate(labels)), None, label_width=label_width),
        *(_change_mark(ax, y, r, e, sweep) for y, (r, e) in enumerate(shown)),
    ])
