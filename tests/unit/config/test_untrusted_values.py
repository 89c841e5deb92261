"""Small parsers of values devbench does not control (issue 16): report links from a results.json,
names made from config and device strings, the adb shell v1 exit line, `select:` target names."""

from __future__ import annotations

import re

import pytest

from devbench.config import AdbOptions, TargetConfig
from devbench.errors import TargetError
from devbench.profile.runs import safe_name
from devbench.report.html import render_html, run_file, run_path
from devbench.targets.adb import split_exit_mark
from devbench.targets.labhost import _unique, selected_name
from tests.unit.report.test_report import data_with

HOSTILE_LINKS = ["javascript:alert(1)", "JaVaScRiPt:alert(document.cookie)", "data:text/html,<script>x</script>",
                 "//evil.example/x", "https://evil.example/console.log", "..", ".", "", None, "a b.log",
                 "console.log\"><script>x</script>", "/etc/passwd/..", "vbscript:x"]


def _qemu_info(console_log: str) -> dict:
    return {"arch": "x86_64", "kernel": "k", "kernel_config_source": None, "boot_seconds": 1, "boot_attempts": 1,
            "console_log": console_log}


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_a_crafted_console_log_renders_no_link(link):
    d = data_with()
    d["targets"][0].update(
        transport="qemu",
        transport_info=_qemu_info(link),
    )
    html = render_html(d)
    links = re.findall(r'<a href="([^"]*)">console log</a>', html)
    # a name in the run folder, or none
    assert all(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", href) for href in links), links
    assert "javascript:" not in html.lower() and "data:text/html" not in html and "evil.example" not in html


def test_a_console_log_in_the_run_folder_is_linked_by_its_name():
    d = data_with()
    d["targets"][0].update(
        transport="qemu",
        transport_info=_qemu_info("/runs/r1/console-kut-1.log"),
    )
    assert '<a href="console-kut-1.log">console log</a>' in render_html(d)


@pytest.mark.parametrize("path, link", [
    ("profiles/phone/0-unpopulated-named.perf.data", "profiles/phone/0-unpopulated-named.perf.data"),
    ("javascript:alert(1)", ""), ("../../etc/passwd", ""), ("/etc/passwd", ""), ("profiles//x", ""),
    ("https://evil.example/x", ""), ("profiles/.hidden", ""),
])
def test_run_path(path, link):
    assert run_path(path) == link


def test_run_file_keeps_only_a_plain_name():
    assert run_file("/x/y/console-a-1.log") == "console-a-1.log" and run_file("javascript:x") == ""


@pytest.mark.parametrize("a, b", [("a b", "a_b"), ("a/b", "a_b"), ("a.b", "a_2eb"), ("x" * 70 + "1", "x" * 70 + "2"),
                                  ("名", "_e5_90_8d"), ("..", "_2e."), ("", "_")])
def test_safe_name_is_one_to_one(a, b):
    assert safe_name(a) != safe_name(b)


def test_safe_name_no_short_name_spells_a_long_ones_folder():
    """Issue 24 item 7: "abc" + 61 spaces was cut to its first 100 characters (ending inside an
    escape) + "_h" + a hash; the 118-character name below encoded to exactly that."""
    import hashlib

    long = "abc" + " " * 61
    crafted = "abc" + " " * 32 + "_h" + hashlib.sha256(long.encode()).hexdigest()[:16]
    assert safe_name(long) != safe_name(crafted)
    assert "~" in safe_name(long) and "~" not in safe_name(crafted)
    assert safe_name(long).startswith("abc" + "_20" * 32 + "~")  # cut after a whole character's code


@pytest.mark.parametrize("seed", range(200))
def test_safe_name_is_one_to_one_on_random_names(seed):
    import random

    rng = random.Random(seed)
    alphabet = "ab_ .~-" + "名"
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(50)}
    made = {safe_name(n) for n in names}
    assert len(made) == len(names)


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/../../b", "x\0y", "a\nb", "-rf", "", "a" * 300, "名前/../x"])
def test_safe_name_is_one_plain_name(name):
    made = safe_name(name)
    assert "/" not in made and made not in (".", "..") and not made.startswith(".") and made.isprintable()
    assert len(made) <= 120 and made.isascii()


@pytest.mark.parametrize("last, code, rest", [
    ("__devbench_exit=0", 0, ""), ("__devbench_exit=3\r", 3, ""), ("out__devbench_exit=1", 1, "out"),
    ("__devbench_exit=x", 255, "__devbench_exit=x"), ("__devbench_exit=", 255, "__devbench_exit="),
    ("__devbench_exit=256", 255, "__devbench_exit=256"), ("__devbench_exit=٣", 255, "__devbench_exit=٣"),
    ("", 255, ""), ("no marker: the connection dropped", 255, "no marker: the connection dropped"),
])
def test_v1_exit_line(last, code, rest):
    assert split_exit_mark(last) == (code, rest)


def test_select_names_that_collide_are_refused():
    o = AdbOptions(serial="x")
    a, b = "A" * 70, "A" * 70 + "B"  # the same once cut to 64 characters
    targets = [TargetConfig(selected_name("rack", s), "adb", AdbOptions(serial=s)) for s in (a, b)]
    with pytest.raises(TargetError, match=r"both give the target name") as exc:
        _unique(targets)
    assert "\n" not in str(exc.value) and repr(a) in str(exc.value)
    with pytest.raises(TargetError, match="both give"):
        _unique([TargetConfig(selected_name("rack", s), "adb", o) for s in ("p 1", "p/1")])
    _unique([TargetConfig(selected_name("rack", s), "adb", o) for s in ("p1", "p2")])
