"""Folded stacks -> SVG flame graphs for inline use in the HTML report (own code, no tools).

Layout as flamegraph.pl: the root ("all") at the bottom, callees above callers, frames merged by
name under the same parent and ordered alphabetically, width = share of samples. The SVG has a
viewBox and width 100%, a <title> per frame for hover text, no scripts, styles, ids or links.
Every name is XML-escaped. Frames narrower than min_fraction of the samples are not drawn and
the footer says how many. Pure: counters in, text out.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

FRAME_H = 16
FONT_SIZE = 11
CHAR_W = 0.6 * FONT_SIZE   # monospace advance, in viewBox units
HEADER_H = 40
FOOTER_H = 24
PAD = 10
ROOT = "all"

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    """Text safe as XML character data or attribute value (also drops characters XML forbids)."""
    return html.escape(_INVALID_XML.sub("\ufffd", text), quote=True)


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def build_tree(folded: Mapping[str, int]) -> Node:
    root = Node(ROOT)
    for stack, n in folded.items():
        if n <= 0:
            continue
        root.count += n
        node = root
        for name in stack.split(";"):
            node = node.children.setdefault(name, Node(name))
            node.count += n
    return root


def _size(node: Node) -> int:
    return 1 + sum(_size(c) for c in node.children.values())


@dataclass(frozen=True)
class _Frame:
    path: tuple[str, ...]
    node: Node
    depth: int
    x: float
    w: float


def _layout(root: Node, min_fraction: float, span: float) -> tuple[list[_Frame], int]:
    frames: list[_Frame] = []
    dropped = 0

    def walk(node: Node, path: tuple[str, ...], depth: int, x: float) -> None:
        nonlocal dropped
        frames.append(_Frame(path, node, depth, x, span * node.count / root.count))
        for name in sorted(node.children):
            child = node.children[name]
            if child.count / root.count < min_fraction:
                dropped += _size(child)
            else:
                walk(child, path + (name,), depth + 1, x)
            x += span * child.count / root.count

    if root.count:
        walk(root, (), 0, PAD)
    return frames, dropped


def _label(name: str, w: float) -> str:
    fits = int((w - 6) / CHAR_W)
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[:fits - 2] + ".."


def hot_colour(name: str) -> str:
    """flamegraph.pl's "hot" palette, from a hash of the name so the same name keeps its colour."""
    if name == "[unknown]":
        return "rgb(190,190,190)"
    h = zlib.crc32(name.encode("utf-8", "replace"))
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    return f"rgb({205 + int(50 * v3)},{int(230 * v1)},{int(55 * v2)})"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "n/a"


def _svg(frames: list[_Frame], width: int, title: str, subtitle: str, footer: str,
         fill: Callable[[_Frame], str], hover: Callable[[_Frame], str]) -> str:
    max_depth = max((f.depth for f in frames), default=0)
    height = HEADER_H + (max_depth + 1) * FRAME_H + FOOTER_H
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'preserveAspectRatio="xMinYMin meet" font-family="monospace" font-size="{FONT_SIZE}">',
           f"<title>{xml_text(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="rgb(250,250,247)"/>',
           f'<text x="{width / 2:.1f}" y="17" text-anchor="middle" font-size="14">{xml_text(title)}</text>',
           f'<text x="{width / 2:.1f}" y="32" text-anchor="middle" fill="rgb(80,80,80)">{xml_text(subtitle)}</text>']
    for f in frames:
        y = HEADER_H + (max_depth - f.depth) * FRAME_H
        label = _label(f.node.name, f.w)
        text = (f'<text x="{f.x + 3:.2f}" y="{y + FRAME_H - 4}">{xml_text(label)}</text>' if label else "")
        out.append(f"<g><title>{xml_text(hover(f))}</title>"
                   f'<rect x="{f.x:.2f}" y="{y}" width="{max(f.w - 0.5, 0.1):.2f}" height="{FRAME_H - 1}" '
                   f'rx="2" fill="{fill(f)}"/>{text}</g>')
    out.append(f'<text x="{PAD}" y="{height - 8}" fill="rgb(80,80,80)">{xml_text(footer)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _dropped_line(dropped: int, min_fraction: float) -> str:
    return f"Frames under {100 * min_fraction:g}% of the samples are not drawn: {dropped}."


def flamegraph_svg(folded: Mapping[str, int], *, title: str = "Flame graph",
                   min_fraction: float = 0.001, width: int = 1200) -> str:
    root = build_tree(folded)
    frames, dropped = _layout(root, min_fraction, width - 2 * PAD)
    total = root.count
    subtitle = (f"{total} samples; width is the share of samples; hover a frame for its count"
                if total else "no samples")
    return _svg(frames, width, title, subtitle, _dropped_line(dropped, min_fraction),
                lambda f: hot_colour(f.node.name),
                lambda f: f"{f.node.name} ({f.node.count} samples, {_pct(f.node.count, total)})")


def _find(root: Node, path: tuple[str, ...]) -> Node | None:
    node: Node | None = root
    for name in path:
        node = node.children.get(name) if node else None
    return node


def diff_colour(delta: float, max_abs: float) -> str:
    """Red where the share grew, blue where it shrank; white for no change; full colour at max_abs."""
    k = int(round(210 * min(abs(delta) / max_abs, 1.0))) if max_abs > 0 else 0
    return f"rgb(255,{255 - k},{255 - k})" if delta > 0 else f"rgb({255 - k},{255 - k},255)" if delta < 0 \
        else "rgb(255,255,255)"


def diff_flamegraph_svg(new: Mapping[str, int], base: Mapping[str, int], *,
                        title: str = "Differential flame graph", new_arm: str = "named",
                        base_arm: str = "unnamed", min_fraction: float = 0.001, width: int = 1200) -> str:
    """The stacks of `new`; each frame coloured by its share in `new` minus its share in `base`
    (the frame's inclusive share, at the same place in the tree)."""
    new_root, base_root = build_tree(new), build_tree(base)
    frames, dropped = _layout(new_root, min_fraction, width - 2 * PAD)
    nt, bt = new_root.count, base_root.count

    def delta(f: _Frame) -> float:
        b = _find(base_root, f.path)
        return (f.node.count / nt if nt else 0.0) - ((b.count if b else 0) / bt if bt else 0.0)

    deltas = {f.path: delta(f) for f in frames}
    max_abs = max((abs(d) for p, d in deltas.items() if p), default=0.0)
    only_base = sum(n for s, n in base.items() if n > 0 and _find(new_root, tuple(s.split(";"))) is None)

    def hover(f: _Frame) -> str:
        b = _find(base_root, f.path)
        bc = b.count if b else 0
        return (f"{f.node.name}: {new_arm} {_pct(f.node.count, nt)} ({f.node.count} of {nt}), "
                f"{base_arm} {_pct(bc, bt)} ({bc} of {bt}), {100 * deltas[f.path]:+.2f} points")

    subtitle = (f"width: {new_arm} ({nt} samples); red: share grew vs {base_arm} ({bt} samples), "
                f"blue: shrank; darkest = {100 * max_abs:.2f} points" if nt else "no samples")
    footer = (_dropped_line(dropped, min_fraction) + f" Stacks seen only in {base_arm} are not drawn: "
              f"{only_base} samples ({_pct(only_base, bt)}).")
    return _svg(frames, width, title, subtitle, footer,
                lambda f: diff_colour(deltas[f.path], max_abs), hover)
