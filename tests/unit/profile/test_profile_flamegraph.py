"""devbench.profile.flamegraph: the SVG parses as XML, escapes every name, merges and orders
frames as flamegraph.pl, drops narrow frames and says so, colours the differential graph."""

import re
import xml.etree.ElementTree as ET
from collections import Counter

from devbench.profile.flamegraph import FRAME_H, build_tree, diff_colour, diff_flamegraph_svg, flamegraph_svg, xml_text
from devbench.profile.folded import parse_perf_script
from tests.unit.profile.profile_texts import PERF_SCRIPT

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def frames(svg: str) -> dict[str, dict]:
    """Frame name -> rect attributes, fill, hover text and label, from the parsed SVG."""
    out = {}
    for g in ET.fromstring(svg).iter(NS + "g"):
        hover = g.find(NS + "title").text
        rect = g.find(NS + "rect").attrib
        text = g.find(NS + "text")
        name = re.split(r" \(\d+ samples|: named ", hover)[0]
        out[name] = {**rect, "hover": hover, "label": text.text if text is not None else None}
    return out


def footer(svg: str) -> str:
    return [t.text for t in ET.fromstring(svg).iter(NS + "text")][-1]


def test_svg_is_inline_ready_xml():
    svg = flamegraph_svg(parse_perf_script(PERF_SCRIPT).stacks, title="named arm")
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg" and root.get("width") == "100%" and root.get("viewBox").startswith("0 0 1200 ")
    assert root.find(NS + "title").text == "named arm"
    for bad in ("script", "style", "a", "image", "foreignObject", "use"):
        assert not list(root.iter(NS + bad))
    assert "href" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    f = frames(svg)
    assert f["all"]["hover"] == "all (9 samples, 100.00%)"
    assert f["vm_area_free"]["hover"] == "vm_area_free (2 samples, 22.22%)"


def test_hostile_names_are_escaped_everywhere():
    svg = flamegraph_svg(Counter({f"p;{HOSTILE}": 5, "p;a&b \"q\" 'r'": 5, "p;bad\x01char": 1}),
                         title=f"title {HOSTILE}")
    assert HOSTILE not in svg and "&lt;script&gt;" in svg
    f = frames(svg)                       # parses: ElementTree gives the names back unescaped
    assert f[HOSTILE]["label"] == HOSTILE and f[HOSTILE]["hover"].startswith(HOSTILE)
    assert "a&b \"q\" 'r'" in f
    assert "bad\ufffdchar" in f           # a character XML forbids is replaced, not emitted
    assert ET.fromstring(svg).find(NS + "title").text == f"title {HOSTILE}"
    assert xml_text('<&>"\'') == "&lt;&amp;&gt;&quot;&#x27;"


def test_frames_merge_by_name_under_the_same_parent_in_alphabetical_order():
    folded = Counter({"p;main;zeta": 6, "p;main;alpha": 2, "p;main;alpha;x": 1, "p;other;beta": 1})
    tree = build_tree(folded)
    assert tree.count == 10 and tree.children["p"].children["main"].count == 9
    assert tree.children["p"].children["main"].children["alpha"].count == 3
    f = frames(flamegraph_svg(folded))
    assert f["main"]["hover"] == "main (9 samples, 90.00%)"
    assert float(f["alpha"]["x"]) < float(f["zeta"]["x"])              # alphabetical, not by size
    assert float(f["zeta"]["width"]) > 2 * float(f["alpha"]["width"])
    # callees sit above callers: y falls by one frame per level
    assert float(f["main"]["y"]) - float(f["zeta"]["y"]) == FRAME_H
    assert float(f["all"]["y"]) > float(f["p"]["y"])


def test_narrow_frames_are_dropped_and_counted_and_labels_fit():
    long = "a_very_long_kernel_function_name_that_cannot_fit"
    folded = Counter({"p;big": 9000, "p;small": 500, f"p;{long}": 480, "p;tiny;deeper": 5})
    svg = flamegraph_svg(folded, min_fraction=0.001)
    f = frames(svg)
    assert "tiny" not in f and "deeper" not in f
    assert footer(svg) == "Frames under 0.1% of the samples are not drawn: 2."
    assert f["big"]["label"] == "big"
    assert f[long]["label"].endswith("..") and len(f[long]["label"]) < len(long)
    assert f[long]["hover"].startswith(long)                           # full name on hover
    assert flamegraph_svg(folded, min_fraction=0).count("<g>") == 7    # all, p, big, small, long, tiny, deeper


def test_no_label_in_a_frame_too_narrow_for_three_characters():
    f = frames(flamegraph_svg(Counter({"p;wide": 995, "p;narrow": 5})))
    assert f["narrow"]["label"] is None and f["narrow"]["hover"] == "narrow (5 samples, 0.50%)"


def test_empty_profile_still_renders():
    svg = flamegraph_svg(Counter())
    root = ET.fromstring(svg)
    assert not list(root.iter(NS + "g")) and "no samples" in svg


def test_differential_colours_growth_red_and_shrinkage_blue():
    unnamed = Counter({"fb;copy_process;dup_mmap;vm_area_dup": 50, "fb;copy_process;dup_mmap": 50,
                       "fb;do_exit;exit_mmap": 100, "fb;only_unnamed": 10})
    named = Counter({"fb;copy_process;dup_mmap;vm_area_dup": 80, "fb;copy_process;dup_mmap": 50,
                     "fb;do_exit;exit_mmap": 80})
    svg = diff_flamegraph_svg(named, unnamed)
    f = frames(svg)
    # vm_area_dup: 80/210 = 38.10% vs 50/210 = 23.81% -> +14.29 points, the largest change: full red
    assert f["vm_area_dup"]["fill"] == "rgb(255,45,45)"
    assert f["vm_area_dup"]["hover"] == ("vm_area_dup: named 38.10% (80 of 210), "
                                         "unnamed 23.81% (50 of 210), +14.29 points")
    # exit_mmap: 80/210 vs 100/210 -> -9.52 points: blue, lighter
    assert re.fullmatch(r"rgb\((\d+),\1,255\)", f["exit_mmap"]["fill"])
    assert 45 < int(f["exit_mmap"]["fill"][4:].split(",")[0]) < 255
    assert f["all"]["fill"] == "rgb(255,255,255)"                         # 100% in both
    assert "only_unnamed" not in f
    assert footer(svg).endswith("Stacks seen only in unnamed are not drawn: 10 samples (4.76%).")


def test_diff_colour_scale():
    assert diff_colour(0.1, 0.1) == "rgb(255,45,45)" and diff_colour(-0.05, 0.1) == "rgb(150,150,255)"
    assert diff_colour(0.0, 0.1) == diff_colour(0.0, 0.0) == "rgb(255,255,255)"
    assert diff_colour(0.3, 0.1) == "rgb(255,45,45)"                       # clamped


def test_differential_escapes_and_parses_with_empty_base():
    svg = diff_flamegraph_svg(Counter({f"p;{HOSTILE}": 3}), Counter(), new_arm="named <a>", base_arm="b&")
    assert HOSTILE not in svg and "named <a>" not in svg
    f = frames(svg)
    assert f[HOSTILE]["hover"].startswith(f"{HOSTILE}: named <a> 100.00% (3 of 3), b& n/a (0 of 0)")
