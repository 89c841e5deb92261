"""The run's per-kind counts and the CI rule on skips (tests/ci_gate.py and the hooks in
tests/conftest.py): the pure parts directly, the hooks through a real pytest run of a small
test folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ci_gate
from tests.conftest import ROOT


@pytest.mark.parametrize("value,expect", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                          ("", False), ("false", False), ("0", False)])
def test_is_ci(value: str, expect: bool) -> None:
    assert ci_gate.is_ci({"CI": value}) is expect
    assert ci_gate.is_ci({}) is False


def test_kinds_of() -> None:
    assert ci_gate.kinds_of([]) == ("unit",)
    assert ci_gate.kinds_of(["parametrize", "timeout"]) == ("unit",)
    assert ci_gate.kinds_of(["timeout", "qemu", "lab"]) == ("lab", "qemu")
    assert ci_gate.kinds_of(["browser", "skipif"]) == ("browser",)


def test_missing_lab_marker() -> None:
    assert ci_gate.missing_lab_marker(["tmp_path", "lab_usable"], ["timeout"])
    assert ci_gate.missing_lab_marker(["adb_server"], [])
    assert not ci_gate.missing_lab_marker(["adb_server", "lab_usable"], ["lab"])
    assert not ci_gate.missing_lab_marker(["tmp_path"], [])


def test_tally_counts_each_test_once_per_kind_by_its_worst_phase() -> None:
    t = ci_gate.Tally()
    t.record("a", ("unit",), "passed")
    t.record("b", ("lab", "qemu"), "skipped", "no netns")
    t.record("c", ("lab",), "passed")
    t.record("c", ("lab",), "failed")  # its teardown failed
    t.record("d", ("browser",), "skipped", "no chromium")
    t.record("e", ("unit",), "skipped", "not x86_64")
    counts = t.counts()
    assert counts["unit"] == {"passed": 1, "failed": 0, "skipped": 1}
    assert counts["lab"] == {"passed": 0, "failed": 1, "skipped": 1}
    assert counts["qemu"] == {"passed": 0, "failed": 0, "skipped": 1}
    assert counts["lava"] == {"passed": 0, "failed": 0, "skipped": 0}
    assert [(o.nodeid, o.reason) for o in t.forbidden_skips()] == [("b", "no netns"), ("d", "no chromium")]
    lines = ci_gate.summary_lines(t)
    assert [line.split()[0] for line in lines] == list(ci_gate.KINDS)
    assert lines[1].split() == ["lab", "2", "ran:", "0", "passed,", "1", "failed,", "1", "skipped"]
    assert lines[3].split() == ["lava", "0", "ran"]
    fail = ci_gate.ci_failure_lines(t.forbidden_skips())
    assert fail[0].startswith("CI=true: 2 lab/qemu/lava/browser/fresh test(s) were skipped")
    assert fail[1:] == ["  SKIPPED b [lab/qemu]: no netns", "  SKIPPED d [browser]: no chromium"]


# -- the hooks, in a real pytest run ---------------------------------------------------------

SAMPLE = '''
import pytest

@pytest.fixture
def lab_usable():
    pytest.skip("lab unavailable: no network namespaces")

def test_unit_passes():
    assert 1 + 1 == 2

@pytest.mark.skipif(True, reason="host-only reason")
def test_unit_skips():
    pass

@pytest.mark.lab
def test_lab_skips(lab_usable):
    pass

@pytest.mark.qemu
@pytest.mark.lab
def test_qemu_passes():
    assert True
'''


def run_pytest(tmp_path: Path, source: str, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import (pytest_collection_modifyitems, pytest_runtest_logreport,  # noqa: F401\n"
        "                            pytest_sessionfinish, pytest_terminal_summary)\n")
    (tmp_path / "test_sample.py").write_text(source)
    env = (
        {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)} | ({"CI": "true"} if ci else {})
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:labgrid", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_run_with_a_skipped_lab_test_fails_and_names_it(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, SAMPLE, ci=True)
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert "SKIPPED test_sample.py::test_lab_skips [lab]: lab unavailable: no network namespaces" in out
    assert "test_unit_skips" not in out.split("CI: skipped tests fail the run")[1]  # a unit skip is allowed
    kinds = {
        line.split()[0]: line.split(None, 1)[1] for line in out.split("tests per kind (marker)")[1].splitlines()[1:6]
    }
    assert kinds == {"unit": "2 ran: 1 passed, 0 failed, 1 skipped", "lab": "2 ran: 1 passed, 0 failed, 1 skipped",
                     "qemu": "1 ran: 1 passed, 0 failed, 0 skipped", "lava": "0 ran", "browser": "0 ran"}


def test_without_ci_a_skip_is_counted_not_failed(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, SAMPLE, ci=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "tests per kind (marker)" in res.stdout and "CI: skipped tests fail the run" not in res.stdout


def test_ci_run_without_skips_passes(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, SAMPLE.replace('pytest.skip("lab unavailable: no network namespaces")', "pass"), ci=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "lab 2 ran: 2 passed, 0 failed, 0 skipped" in [" ".join(line.split()) for line in res.stdout.splitlines()]


def test_a_lab_test_without_the_lab_marker_is_refused(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, SAMPLE.replace("@pytest.mark.lab\ndef test_lab_skips", "def test_lab_skips"), ci=False)
    assert res.returncode == pytest.ExitCode.USAGE_ERROR, res.stdout + res.stderr
    assert "not marked lab" in res.stderr and "test_sample.py::test_lab_skips" in res.stderr
