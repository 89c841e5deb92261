"""report.html in a real headless Chromium (Debian's chromium and chromium-driver, over
Selenium): it renders, has no console errors, makes no request other than file: and data:,
shows a hostile device string as text, fits a phone's width and prints."""

import base64
import json
import os
import re
import shutil
import struct

import numpy as np
import pytest

from devbench.report.html import write_report
from tests.simdata import ICOUNT_INFO, make_results

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
HOSTILE = "<script>alert(1)</script>"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Debian's chromium and chromium-driver (scripts/dev test installs them)")]


@pytest.fixture
def report(tmp_path):
    d = make_results(shifts={"unpopulated": 0.12, "1 page": 0.0, "10 pages": 0.04}, seed=51, model=HOSTILE)
    rec = d["targets"][0]
    rec["warnings"] = ["clocks not locked"]
    rec["device"] = {"root": "su", "note": HOSTILE}
    rec["conditions"] = [{"when": "before", "freq_khz": {"policy0": 1800000}, "temp_mc": {"zone0": 41000}}]
    (tmp_path / "results.json").write_text(json.dumps(d))
    return write_report(d, tmp_path)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is in the test extra (pip install -e .[test])"
    )
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER, log_output=os.devnull), options=opts)
    yield driver
    driver.quit()


def has_exits(report) -> bool:
    return any(s.get("exit_ns") for s in json.loads((report.parent / "results.json").read_text())["samples"])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def test_report_in_headless_chromium(browser, report, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    browser.get("about:blank")
    browser.get_log("performance")  # drop what the browser's own start page fetched
    browser.get_log("browser")
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title.startswith("devbench: sim")

    # the hostile model string is text on the page, never a script
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (reading it raises when there is none)
    assert HOSTILE in browser.find_element(By.TAG_NAME, "body").text
    assert not browser.execute_script("return [...document.scripts].some(s => s.textContent.includes('alert'))")

    # table, headline and every plot rendered with a real size
    assert "REGRESSION" in browser.find_element(By.TAG_NAME, "table").text
    sizes = browser.execute_script(
        "return [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"
    )
    assert len(sizes) == 7 + 3 * has_exits(report) and min(sizes) > 150  # + a child-exit plot per scenario

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert png_size(data) == (1200, browser.execute_script("return window.innerHeight")) and len(data) > 20_000
    from PIL import Image

    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50  # not a blank page

    # no console errors, nothing fetched but the file itself and inline data
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    urls = requested_urls(browser)
    assert report.as_uri() in urls and all(u.startswith(("file:", "data:")) for u in urls), urls

    # a phone's width: the page itself never scrolls sideways, wide tables scroll in their box
    browser.set_window_size(390, 844)
    inner = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
    assert browser.execute_script(
        "return [...document.querySelectorAll('.scroll')].some(d => d.scrollWidth > d.clientWidth)")
    assert min(browser.execute_script(
        "return [...document.querySelectorAll('.panels svg')].map(s => s.getBoundingClientRect().width)")) > 250
    browser.save_screenshot(str(tmp_path / "report-phone.png"))

    # print: a PDF comes out
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def _crop(browser, tmp_path, element, name):
    """The element scrolled into view, checked to be on top at its centre (nothing covers it), and
    its pixels cut out of a real screenshot of the window."""
    from PIL import Image

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    rect = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); const e = document.elementFromPoint(r.x + r.width / 2, "
        "r.y + r.height / 2);"
        "return {x: r.x, y: r.y, w: r.width, h: r.height, top: arguments[0].contains(e), ratio: "
        "window.devicePixelRatio,"
        " vw: window.innerWidth, vh: window.innerHeight}",
        element,
    )
    assert rect["top"], f"{name}: covered by another element"
    assert rect["w"] > 100 and rect["h"] > 20 and rect["x"] >= 0 and rect["x"] + rect["w"] <= rect["vw"] + 1, (
        name,
        rect,
    )
    assert rect["y"] >= 0 and rect["y"] + rect["h"] <= rect["vh"] + 1, (name, rect)
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot))
    k = rect["ratio"]
    with Image.open(shot) as image:
        box = (
            int(rect["x"] * k),
            int(rect["y"] * k),
            int((rect["x"] + rect["w"]) * k),
            int((rect["y"] + rect["h"]) * k),
        )
        return np.asarray(image.convert("RGB").crop(box))


def _colours(pixels) -> int:
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


def test_screenshot_shows_headline_warnings_banner_and_every_plot(browser, report, tmp_path):
    """What a reader sees: the headline and the warnings banner in the first screen, before any
    scrolling; then every plot, each found in a real screenshot with its own pixels (not blank,
    not covered)."""
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    headline = browser.find_element(By.CSS_SELECTOR, ".headline")
    banner = browser.find_element(By.CSS_SELECTOR, ".banner")
    assert headline.text.startswith("On phone, fork() with named VMAs is")
    assert "clocks not locked" in banner.text and "CPU clocks locked" in banner.text
    first = browser.execute_script(
        "return [arguments[0], arguments[1]].map(e => e.getBoundingClientRect().bottom <= window.innerHeight)",
        headline,
        banner,
    )
    assert first == [True, True]  # at a glance: no scrolling needed

    page = _crop(browser, tmp_path, headline, "headline")
    assert _colours(page) > 10  # text antialiased on the headline's background
    # the headline's background colour (#f3f6fa) fills most of its box
    assert (np.abs(page.astype(int) - (0xf3, 0xf6, 0xfa)).sum(axis=-1) < 6).mean() > 0.5
    page = _crop(browser, tmp_path, banner, "banner")
    assert (np.abs(page.astype(int) - (0xff, 0xf4, 0xd6)).sum(axis=-1) < 6).mean() > 0.5  # the banner's yellow
    assert _colours(page) > 10

    plots = browser.find_elements(By.CSS_SELECTOR, "figure.plot svg")
    assert len(plots) == 7 + 3 * has_exits(report)
    for i, svg in enumerate(plots):
        pixels = _crop(browser, tmp_path, svg, f"plot-{i}")
        assert _colours(pixels) > 20, f"plot {i} looks blank"
        white = (pixels.sum(axis=-1) >= 3 * 250).mean()
        assert white < 0.97, f"plot {i}: {white:.0%} white"


@pytest.fixture
def icount_report(tmp_path):
    """An icount guest's run as the quick start makes it: +0.37% on a spread of about 0.1%, and
    the named arm of '10 pages' refused by a kernel without CONFIG_ANON_VMA_NAME."""
    d = make_results(shifts={"unpopulated": 0.0037, "1 page": 0.0037, "10 pages": 0.0}, seed=52, sigma=0.001,
                     process_sd=0.0005, batch_sd=0.0005, arm_batch_sd=0.0002, with_exit=False)
    rec = d["targets"][0]
    rec.update(transport="qemu", transport_info=ICOUNT_INFO,
               device={"root": "uid 0", "locked_khz": {}, "procfs": "/proc"})
    d["samples"] = [s for s in d["samples"] if not (s["scenario"] == "10 pages" and s["arm"] == "named")]
    d["errors"].append({"target": "phone", "scenario": "10 pages", "arm": "named", "kind": "kernel-lacks-anon-vma-name",
                        "message": "the kernel has no CONFIG_ANON_VMA_NAME: prctl(PR_SET_VMA_ANON_NAME) fails"})
    (tmp_path / "results.json").write_text(json.dumps(d))
    return write_report(d, tmp_path)


def test_screenshot_shows_the_verdict_column_and_axes_a_reader_cannot_misread(browser, icount_report, tmp_path):
    """At 1400 px the statistics table's verdict is in view without scrolling; a violin's ms axis
    under icount says what the time is, is marked as cut and has the change in % beside it;
    the refused arm's figure says why. The crops are kept in tmp_path (looked at, not only asserted)."""
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 900)
    browser.get(icount_report.as_uri())
    stats = browser.find_element(By.XPATH, "//h3[text()='Statistics']/following::table[1]")
    verdict = stats.find_element(By.XPATH, ".//th[text()='verdict']")
    box = stats.find_element(By.XPATH, "./ancestor::div[contains(@class, 'scroll')][1]")
    inside = browser.execute_script(
        "const v = arguments[0].getBoundingClientRect(), b = arguments[1].getBoundingClientRect();"
        "return v.right <= b.right + 1 && v.left >= b.left", verdict, box)
    assert inside, "the verdict column is cut off the statistics table's box"
    _crop(browser, tmp_path, box, "statistics-table")
    cells = [td.text for td in stats.find_elements(By.XPATH, ".//tbody/tr/td[4]")]
    words = ("slower", "faster", "no difference", "inconclusive", "not measured", "no verdict", "refused")
    assert cells and all(c.startswith(words) for c in cells), cells  # the verdict column, read in the page

    figures = browser.find_elements(By.CSS_SELECTOR, "figure.plot svg")
    texts = [f.get_attribute("textContent") for f in figures]
    violin = next(f for f, t in zip(figures, texts, strict=True) if "1 page" in t and "% of unnamed's median" in t)
    text = violin.get_attribute("textContent")
    assert "instruction time, icount (ms)" in text and "fork time (ms)" not in text
    assert re.search(r"\+0\.[3-7]\d?%", text)  # the regression scale on the right, around the +0.37%
    pixels = _crop(browser, tmp_path, violin, "violin-1-page")
    assert _colours(pixels) > 20
    refused = [t for t in texts if "10 pages" in t and "named refused" in t]
    assert refused and all("no data" not in t for t in refused) and "CONFIG_ANON_VMA_NAME" in refused[0]
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "locked frequency (kHz)" in body and "locked_khz" not in body and "procfs mounted at" in body
    assert not re.search(r"(^|\s)0\.00ms", body)
