"""A small SVG toolkit for the report's figures (pure: numbers in, text out).

A figure is ONE <svg> element ready to inline in HTML: a viewBox and no width or height (the
page's CSS sizes it), role="img" with an aria-label and a <title> first, text as text in
sans-serif. Every text and attribute value is XML-escaped (xml_text); there are no scripts,
links, ids or anything fetched, so 140 figures share a page without clashing. Coordinates are
written with one decimal to keep the file small, and a non-finite number is never written:
the helpers drop NaN and infinities from the data.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from devbench.profile.flamegraph import xml_text

FONT_SIZE = 11
CHAR_W = 0.56 * FONT_SIZE    # average sans-serif advance in viewBox units, for layout only
HEADING_SIZE = 12
INK = "#333333"              # axes, ticks, medians and whiskers
MUTED = "#555555"            # "no data"

Value = TypeVar("Value", float, np.ndarray)


# -- numbers and ticks ------------------------------------------------------------------------

def finite(values: Iterable[float] | np.ndarray) -> np.ndarray:
    """The finite values as a flat float array (NaN and infinities dropped)."""
    a = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def num(v: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros ("12.5", "3", "-0.4")."""
    if not math.isfinite(v):
        raise ValueError(f"non-finite coordinate {v!r}")  # the figures drop them before this
    s = f"{v:.1f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= raw (raw > 0)."""
    base = 10.0 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw * (1 - 1e-9))


def nice_ticks(values: Iterable[float] | np.ndarray, target: int = 5, integer: bool = False) -> list[float]:
    """About `target` evenly spaced ticks in 1-2-5 steps whose first and last enclose the finite
    values; [] when there are none. A zero range (or one below float resolution) is widened by
    5% of the value (by 1 at zero); integer: steps of at least 1 (counts, indices)."""
    v = finite(values)
    if not v.size:
        return []
    lo, hi = float(v.min()), float(v.max())
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):
        pad = 0.05 * abs(lo) or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step((hi - lo) / target)
    if integer:
        step = max(step, 1.0)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, max(last, first + 1) + 1)]


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels of evenly spaced ticks with just the decimals the step needs ("0.5", "16", "2000");
    outside 1e-3 to 1e6 with a common power of ten ("1.0e-9", "1.2e-9"; "0" for zero)."""
    step = ticks[1] - ticks[0]
    big = max(abs(t) for t in ticks)
    step_exp = math.floor(math.log10(step) + 1e-9)
    if 1e-3 <= big < 1e6:
        return [f"{t:.{max(0, -step_exp)}f}" for t in ticks]
    exp = math.floor(math.log10(big))
    return [f"{t / 10.0 ** exp:.{max(0, exp - step_exp)}f}e{exp}" if t else "0" for t in ticks]


def value_ticks(values: Iterable[float] | np.ndarray, integer: bool = False) -> list[tuple[float, str]]:
    """nice_ticks with their labels."""
    ticks = nice_ticks(values, integer=integer)
    return list(zip(ticks, tick_labels(ticks), strict=False)) if ticks else []


# -- data to viewBox ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Scale:
    """Data [lo, hi] onto viewBox [a, b], linear; b < a for a y axis (up is a smaller y)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: Value) -> Value:
        return self.a + (v - self.lo) * ((self.b - self.a) / (self.hi - self.lo))


@dataclass(frozen=True)
class Axes:
    """A plot area: x and y scales onto its sides in viewBox units."""

    x: Scale
    y: Scale

    @property
    def left(self) -> float:
        return self.x.a

    @property
    def right(self) -> float:
        return self.x.b

    @property
    def top(self) -> float:
        return min(self.y.a, self.y.b)

    @property
    def bottom(self) -> float:
        return max(self.y.a, self.y.b)

    @property
    def width(self) -> float:
        return self.right - self.left


def text_width(text: str) -> float:
    """About how wide text is at FONT_SIZE, in viewBox units."""
    return len(text) * CHAR_W


def fit(text: str, max_width: float) -> str:
    """text cut with an ellipsis to about max_width viewBox units."""
    chars = max(int(max_width / CHAR_W), 2)
    return text if len(text) <= chars else text[:chars - 1] + "…"


# -- elements ---------------------------------------------------------------------------------

def _attr(value: object) -> str:
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return num(float(value))
    return xml_text(str(value))


def tag(name: str, content: str | None = None, **attrs: object) -> str:
    """An element; attribute names with _ for - (stroke_width), None values left out.
    content is markup: escape text before (see text())."""
    a = "".join(f' {k.replace("_", "-")}="{_attr(v)}"' for k, v in attrs.items() if v is not None)
    return f"<{name}{a}/>" if content is None else f"<{name}{a}>{content}</{name}>"


def text(x: float, y: float, s: str, *, max_width: float | None = None, **attrs: object) -> str:
    """Escaped text; cut to max_width with the whole text as its hover title."""
    shown = fit(s, max_width) if max_width is not None else s
    hover = f"<title>{xml_text(s)}</title>" if shown != s else ""
    return tag("text", hover + xml_text(shown), x=x, y=y, **attrs)


def points(xs: np.ndarray, ys: np.ndarray) -> str:
    """Space-separated x,y pairs in viewBox units; a pair with a non-finite coordinate is dropped."""
    keep = np.isfinite(xs) & np.isfinite(ys)
    return " ".join(f"{num(x)},{num(y)}" for x, y in zip(xs[keep].tolist(), ys[keep].tolist(), strict=False))


def group(hover: str, *parts: str) -> str:
    """Elements that show `hover` as a tooltip."""
    return f"<g><title>{xml_text(hover)}</title>{''.join(parts)}</g>"


# -- axes and figures -------------------------------------------------------------------------

def x_axis(ax: Axes, ticks: Sequence[tuple[float, str]], title: str | None) -> list[str]:
    """The line under the plot area, a mark and label under each tick, the title below."""
    out = [tag("line", x1=ax.left, y1=ax.bottom, x2=ax.right, y2=ax.bottom, stroke=INK)]
    for v, s in ticks:
        x = ax.x(v)
        out.append(tag("line", x1=x, y1=ax.bottom, x2=x, y2=ax.bottom + 4, stroke=INK))
        out.append(text(x, ax.bottom + 15, s, text_anchor="middle"))
    if title:
        out.append(text((ax.left + ax.right) / 2, ax.bottom + 30, title, text_anchor="middle"))
    return out


def y_axis(ax: Axes, ticks: Sequence[tuple[float, str]], title: str | None,
           label_width: float | None = None) -> list[str]:
    """The line left of the plot area, a mark and label at each tick, the title turned upright."""
    out = [tag("line", x1=ax.left, y1=ax.top, x2=ax.left, y2=ax.bottom, stroke=INK)]
    for v, s in ticks:
        y = ax.y(v)
        out.append(tag("line", x1=ax.left - 4, y1=y, x2=ax.left, y2=y, stroke=INK))
        out.append(text(ax.left - 6, y + 4, s, text_anchor="end", max_width=label_width))
    if title:
        cy = (ax.top + ax.bottom) / 2
        out.append(text(12, cy, title, text_anchor="middle", transform=f"rotate(-90 12 {num(cy)})"))
    return out


def left_margin(labels: Iterable[str], titled: bool) -> float:
    """Room left of a y axis for its tick labels (and its upright title)."""
    return 10 + max((text_width(s) for s in labels), default=0.0) + (20 if titled else 0)


def heading(width: float, s: str) -> str:
    """A figure's heading, centred at the top."""
    return text(width / 2, 16, s, text_anchor="middle", font_size=HEADING_SIZE, max_width=width - 20)


def figure(width: float, height: float, label: str, parts: Iterable[str]) -> str:
    """The one <svg> element of a figure; label is its accessible name and hover title."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {num(width)} {num(height)}" role="img" '
            f'aria-label="{xml_text(label)}" font-family="sans-serif" font-size="{FONT_SIZE}">'
            f"<title>{xml_text(label)}</title>{''.join(parts)}</svg>")


def no_data(width: float, height: float, label: str, title: str | None, why: str = "no data") -> str:
    """A figure that says why it is empty ("no data", or e.g. "named: refused: ...") under its
    heading, wrapped to the figure's width."""
    parts = [heading(width, title)] if title else []
    lines = textwrap.wrap(why, max(int((width - 20) / CHAR_W), 10))[:6]
    top = height / 2 - 7 * (len(lines) - 1)
    parts += [text(width / 2, top + 14 * i, s, text_anchor="middle", fill=MUTED) for i, s in enumerate(lines)]
    return figure(width, height, label + f": {why}", parts)
