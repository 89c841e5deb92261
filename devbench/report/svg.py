"""matplotlib figures as inline SVG: text as text (no fonts embedded or fetched), no metadata,
no links, element ids unique within the page (pure apart from matplotlib)."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from typing import Iterator

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RC = {
    "svg.fonttype": "none",          # text stays text: no glyph paths, no font files
    "svg.hashsalt": "devbench",      # stable ids: the same results give the same file
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextmanager
def style() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def new_figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas; savefig(format="svg") renders through the SVG backend
    return fig


def label(text: str) -> str:
    """A device or config string as literal text (matplotlib would read $...$ as math)."""
    return str(text).replace("$", r"\$")


def to_svg(fig: Figure, title: str, key: str) -> str:
    """The figure as one <svg> element ready to inline in HTML; key makes its ids unique."""
    buf = io.StringIO()
    with style():
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return clean_svg(buf.getvalue(), re.sub(r"[^A-Za-z0-9_-]", "_", key), title)


def clean_svg(text: str, prefix: str, title: str) -> str:
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns:xlink="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    text = re.sub(r'\sid="([^"]+)"', rf' id="{prefix}-\1"', text)
    text = re.sub(r'url\(#([^)]+)\)', rf'url(#{prefix}-\1)', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r'<svg\1', text, count=1)
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace(">", f' role="img" aria-label="{safe_title.replace(chr(34), "&quot;")}"><title>{safe_title}</title>', 1)
