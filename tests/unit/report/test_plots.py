"""The report's hand-written SVG figures (devbench.report.plots on devbench.report.svg): valid
XML, one <svg> with a title and accessible name, every string escaped, never a NaN or
infinity in the file, ticks in 1-2-5 steps, envelopes for long timelines that keep spikes."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from devbench.analysis.model import Effect, Row, Verdict
from devbench.analysis.samples import ArmData
from devbench.report import plots, svg

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '</svg><script>alert(1)</script> $x$ & "q"'


def arm(*batches) -> ArmData:
    return ArmData(tuple((i, np.asarray(b, dtype=np.float64)) for i, b in enumerate(batches)))


def normal_arm(n: int = 1000, mean: float = 16.0, batches: int = 10, seed: int = 1) -> ArmData:
    x = np.random.default_rng(seed).normal(mean, 0.5, n)
    return arm(*np.array_split(x, batches))


def effect(change, low, high) -> Effect:
    return Effect(change, low, high, "paired", "batch", 10, "paired t", 0.01, 0.01, 0.01, 0.3)


def row(scenario: str, e: Effect | None, kind: str = "slower", arm_name: str | None = None) -> Row:
    return Row("phone", scenario, arm_name, 0, None, None, e, 0.01, Verdict(kind, kind, None))


SERIES = {"unnamed": normal_arm(), "named": normal_arm(mean=18.0, seed=2)}
ROWS = [row("unpopulated", effect(12.0, 10.8, 13.2)), row("1 page", effect(-0.4, -1.7, 0.9), "inconclusive"),
        row("10 pages", None, "not measured")]


def figures(series=SERIES, name: str = "unpopulated", rows=ROWS) -> dict[str, str]:
    return {"distribution": plots.distribution(name, series, "t0-d0"),
            "timeline": plots.timeline(name, series, "t0-t0"),
            "changes": plots.changes(rows, 1.0, "t0-chg", "regression, named vs unnamed")}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def points_of(element: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in element.get("points", "").split()])


def check_figure(text: str) -> ET.Element:
    """One inline-ready <svg>: sized by CSS, named, nothing active, linked or clashing, no NaN."""
    root = parse(text)
    assert root.tag == NS + "svg" and text.count("<svg") == 1
    assert re.fullmatch(r"0 0 \d+(\.\d+)? \d+(\.\d+)?", root.get("viewBox", ""))
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.get("width") is None and root.get("height") is None
    assert root.get("font-family") == "sans-serif"
    assert root[0].tag == NS + "title" and root[0].text == root.get("aria-label")
    tags = {e.tag.removeprefix(NS) for e in root.iter()}
    assert not tags & {"script", "a", "image", "use", "foreignObject", "style", "iframe"}
    assert not [k for e in root.iter() for k in e.attrib if k in ("id", "href", "style") or k.endswith("}href")]
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"nan|inf", text, re.I)
    return root


@pytest.mark.parametrize("kind", ["distribution", "timeline", "changes"])
def test_every_figure_is_one_inline_ready_svg(kind):
    root = check_figure(figures()[kind])
    assert root.get("aria-label") == {"distribution": "Distribution of fork times: unpopulated",
                                      "timeline": "Fork time over the run: unpopulated",
                                      "changes": "regression, named vs unnamed with its 95% confidence interval"}[kind]


def test_axis_titles_and_labels_are_text():
    text = figures()
    words = {k: {e.text for e in parse(v).iter(NS + "text")} for k, v in text.items()}
    assert {"unpopulated", "fork time (ms)", "unnamed", "named"} <= words["distribution"]
    assert {"fork, in run order", "fork time (ms)", "unnamed", "named"} <= words["timeline"]
    assert {"regression, named vs unnamed (%), 95% CI; grey: ±1%", "unpopulated", "1 page"} <= words["changes"]


def test_hostile_names_appear_only_escaped():
    series = {HOSTILE: normal_arm(20), "named": normal_arm(20, seed=3)}
    rows = [row(HOSTILE, effect(1.0, 0.5, 1.5), arm_name=HOSTILE)]
    for text in figures(series, HOSTILE, rows).values():
        root = check_figure(text)
        assert "<script>" not in text and "</svg><" not in text
        assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt; $x$ &amp; &quot;q&quot;" in text
        assert any(HOSTILE in (e.text or "") for e in root.iter())


def test_non_finite_fork_times_are_skipped():
    series = {"unnamed": arm([np.nan, 1.0, np.inf, 2.0, -np.inf], [3.0, np.nan]), "named": arm([np.nan, np.nan])}
    rows = [row("s", effect(float("nan"), float("-inf"), 3.0)), row("t", effect(2.0, float("nan"), None))]
    for text in figures(series, rows=rows).values():
        check_figure(text)


@pytest.mark.parametrize("forks", [[1e-9, 1e-9, 2e-9], [1e9, 1.1e9, 1e9], [9.2e12, 9.2e12], [0.0, 4.6e12], [5.0],
                                   [16.0] * 50, [0.0, 0.0, 0.0]], ids=str)
def test_extreme_but_valid_numbers_render(forks):
    for text in figures({"unnamed": arm(forks), "named": arm(forks[::-1])}).values():
        check_figure(text)


def test_no_data_figures():
    empty = figures({"unnamed": arm(), "named": ArmData(())}, rows=[row("s", None, "not measured")])
    for text in empty.values():
        root = check_figure(text)
        assert "no data" in [e.text for e in root.iter(NS + "text")]


# -- ticks and numbers --------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi", [(16.3, 18.4), (0, 999), (-3.7, 14.2), (1e-9, 2e-9), (1e9, 1.1e9), (0, 4.6e12),
                                    (12.72, 79.5), (0.001, 0.0013)])
def test_ticks_step_1_2_5_and_cover_the_range(lo, hi):
    ticks = svg.nice_ticks([lo, hi])
    steps = np.diff(ticks)
    assert 3 <= len(ticks) <= 11 and np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]) + 1e-9)
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-6
    assert ticks[0] <= lo and ticks[-1] >= hi and ticks[1] > lo and ticks[-2] < hi
    labels = svg.tick_labels(ticks)
    assert len(set(labels)) == len(labels)


def test_ticks_of_a_zero_range_and_of_non_finite_values():
    assert svg.nice_ticks([5.0, 5.0])[0] < 5.0 < svg.nice_ticks([5.0, 5.0])[-1]
    assert svg.nice_ticks([0.0]) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert svg.nice_ticks([np.nan, 2.0, np.inf, 4.0, -np.inf]) == svg.nice_ticks([2.0, 4.0])
    assert svg.nice_ticks([np.nan]) == [] and svg.nice_ticks([]) == []
    assert svg.nice_ticks([0, 3], integer=True) == [0.0, 1.0, 2.0, 3.0]


def test_tick_labels():
    assert svg.tick_labels([16.0, 16.5, 17.0]) == ["16.0", "16.5", "17.0"]
    assert svg.tick_labels([0.0, 200.0, 400.0]) == ["0", "200", "400"]
    assert svg.tick_labels([1e9, 1.02e9]) == ["1.00e9", "1.02e9"]
    assert svg.tick_labels([0.0, 2e-10, 4e-10]) == ["0", "2e-10", "4e-10"]


def test_coordinates_are_short_and_never_non_finite():
    assert [svg.num(v) for v in (12.0, 12.34, -0.04, 1e9)] == ["12", "12.3", "0", "1000000000"]
    with pytest.raises(ValueError):
        svg.num(float("nan"))
    assert svg.points(np.array([1.0, np.nan, 3.0]), np.array([2.0, 5.0, np.inf])) == "1,2"


def test_attributes_and_text_are_escaped():
    assert (
        svg.tag("line", stroke='x" onload="y', stroke_width=0.5)
        == '<line stroke="x&quot; onload=&quot;y" stroke-width="0.5"/>'
    )
    assert svg.text(1, 2, "<a & b>", fill="#333") == '<text x="1" y="2" fill="#333">&lt;a &amp; b&gt;</text>'
    cut = svg.text(0, 0, "a" * 100, max_width=60)
    assert parse(cut)[0].text == "a" * 100 and "…" in cut  # cut, with the whole as its title


# -- each figure ---------------------------------------------------------------------------------

def test_a_violin_per_arm_with_at_least_two_forks():
    series = {"unnamed": normal_arm(), "named": arm([17.0, 18.0]), "A": arm([16.0]), "B": arm()}
    root = check_figure(plots.distribution("s", series, "k"))
    violins = [g for g in root.iter(NS + "g") if g.find(NS + "path") is not None]
    assert [g.find(NS + "title").text.split(":")[0] for g in violins] == ["unnamed", "named"]
    fills = [g.find(NS + "path").get("fill") for g in violins]
    assert fills == [plots.COLORS["unnamed"], plots.COLORS["named"]]
    assert all(g.find(NS + "path").get("d").endswith("Z") for g in violins)
    labels = [e.text for e in root.iter(NS + "text")]
    assert "unnamed" in labels and "named" in labels and "A" not in labels and "B" not in labels


def test_density_is_scotts_gaussian_kde():
    x = np.random.default_rng(4).gamma(4.0, 1.0, 2000)
    grid, dens = plots.density(x)
    want = gaussian_kde(x)(grid)
    assert np.max(np.abs(dens / dens.max() - want / want.max())) < 0.03
    grid, dens = plots.density(np.full(10, 3.0))
    assert list(grid) == [3.0, 3.0] and np.all(dens > 0)


def test_timeline_draws_few_forks_as_a_line():
    root = check_figure(plots.timeline("s", {"unnamed": normal_arm(200), "named": normal_arm(200, seed=2)}, "k"))
    lines = list(root.iter(NS + "polyline"))
    assert len(lines) == 2 and all(len(points_of(p)) == 200 for p in lines)
    assert not list(root.iter(NS + "polygon"))


def test_timeline_envelope_keeps_every_spike_and_stays_small():
    x = np.random.default_rng(5).normal(16.0, 0.5, 100_000)
    x[70_000] = 48.0  # one slow fork in 100,000
    text = plots.timeline("s", {"unnamed": arm(*np.array_split(x, 20))}, "k")
    root = check_figure(text)
    assert not list(root.iter(NS + "polyline"))
    [envelope] = root.iter(NS + "polygon")
    pts = points_of(envelope)
    width = float(root.get("viewBox").split()[2])
    assert len(pts) <= 2 * width and len(text) < 20_000
    top = pts[np.argmin(pts[:, 1])]  # viewBox y grows downwards: the spike is the smallest y
    xs = pts[:, 0]
    assert abs((top[0] - xs.min()) / (xs.max() - xs.min()) - 0.7) < 0.01
    means = next(p for p in root.iter(NS + "path") if p.get("stroke-width") == "1.8")
    assert means.get("d").count("M") == 20  # a batch mean per batch
    others = np.delete(pts[:, 1], np.argmin(pts[:, 1]))
    assert others.min() - top[1] > 100  # the spike stands far above every other column


def test_changes_has_a_mark_per_row_with_an_effect():
    rows = [
        row("unpopulated", effect(12.0, 10.8, 13.2)),
        row("1 page", effect(-0.4, None, None), "no difference", "named"),
        row("10 pages", None, "not measured"),
        row("100 pages", effect(0.3, -0.2, 0.8), "inconclusive"),
    ]
    root = check_figure(plots.changes(rows, 1.0, "k", "change"))
    marks = list(root.iter(NS + "g"))
    assert [g.find(NS + "title").text for g in marks] == [
        "unpopulated: +12.00% [+10.80%, +13.20%], slower", "1 page (named): -0.40%, no difference",
        "100 pages: +0.30% [-0.20%, +0.80%], inconclusive"]
    assert [len(g.findall(NS + "circle")) for g in marks] == [1, 1, 1]
    assert [len(g.findall(NS + "path")) for g in marks] == [1, 0, 1]  # the CI bar, when both ends are known
    assert [g.find(NS + "circle").get("fill") for g in marks] == [
        plots.VERDICT_COLORS["slower"], plots.VERDICT_COLORS["no difference"], plots.VERDICT_COLORS["inconclusive"]]
    assert len(root.findall(NS + "rect")) == 1  # the ±margin band
    labels = [e.text for e in root.iter(NS + "text")]
    assert "1 page (named)" in labels and "10 pages" not in labels


def test_changes_grows_with_its_rows():
    def height(n: int) -> float:
        rows = [row(f"s{i}", effect(1.0, 0.0, 2.0)) for i in range(n)]
        return float(parse(plots.changes(rows, 1.0, "k", "change")).get("viewBox").split()[3])

    assert height(1) < height(3) < height(10)
