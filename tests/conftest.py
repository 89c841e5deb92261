import os
import sys
from pathlib import Path

import pytest

from tests import ci_gate, ordering

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """The tests' devbench (in-process and the CLIs they start) keeps its run-seal key
    (devbench/results/seal.py) in a folder of the test session's, not in the user's ~/.config.

    A suite started in the background by a non-interactive shell (`scripts/dev test &`, nohup,
    some CI runners) inherits SIGINT ignored, and so would every devbench the tests start: the
    tests that press Ctrl-C (SIGINT) on a run would wait for a run that cannot hear it. The
    session takes SIGINT back (its children then start with the default action)."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if "DEVBENCH_CONFIG_HOME" not in os.environ:
        import tempfile

        os.environ["DEVBENCH_CONFIG_HOME"] = tempfile.mkdtemp(prefix="devbench-tests-config-")


@pytest.fixture
def devbench_cmd():
    """The installed CLI, run the way a user runs it."""
    return [sys.executable, "-m", "devbench"]


# -- what the run covered per kind of test; with CI=true a skipped lab/qemu/lava/browser test
# fails the run (tests/ci_gate.py) --------------------------------------------------------------

_KINDS: dict[str, tuple[str, ...]] = {}  # nodeid -> kinds, from the collected items' markers
_TALLY = ci_gate.Tally()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [it.nodeid for it in items
                if ci_gate.missing_lab_marker(it.fixturenames, (m.name for m in it.iter_markers()))]
    if unmarked:
        raise pytest.UsageError("these tests use the lab's fixtures but are not marked lab (pytest.mark.lab): "
                                + ", ".join(unmarked))
    for it in items:
        _KINDS[it.nodeid] = ci_gate.kinds_of(m.name for m in it.iter_markers())
    items[:] = ordering.ordered(items, module_of=lambda it: it.nodeid.split("::")[0], phase=_phase)


# -- the order of the suite, and the wait for set-up's background builds (tests/ordering.py) ----

_WAITED: set[str] = set()


def _phase(item: pytest.Item) -> str:
    return ordering.phase_of((m.name for m in item.iter_markers()), item.fixturenames)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Before the first arm64 or QEMU test: wait (outside any test's timeout) for the builds
    scripts/dev left running in the background."""
    phase = _phase(item)
    if phase in ordering.WAIT_BEFORE and phase not in _WAITED:
        _WAITED.add(phase)
        jobs = ordering.needed_before(ordering.parse_jobs(os.environ.get("DEVBENCH_SETUP_JOBS", "")), phase)
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")

        def say(line: str) -> None:
            if reporter is not None:
                reporter.write_line(line)

        waited = ordering.wait_for_jobs(jobs, say)
        if waited >= 1:
            say(f"set-up's background jobs ended after {waited:.0f} s of waiting")
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kinds = _KINDS.get(report.nodeid, ("unit",))
    if report.failed:
        _TALLY.record(report.nodeid, kinds, "failed")
    elif report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _TALLY.record(report.nodeid, kinds, "skipped", reason.removeprefix("Skipped: "))
    elif report.when == "call":
        _TALLY.record(report.nodeid, kinds, "passed")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if (
        ci_gate.is_ci(os.environ)
        and _TALLY.forbidden_skips()
        and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _TALLY.tests:
        return
    terminalreporter.section("tests per kind (marker)")
    for line in ci_gate.summary_lines(_TALLY):
        terminalreporter.write_line(line)
    skipped = _TALLY.forbidden_skips()
    if ci_gate.is_ci(os.environ) and skipped:
        terminalreporter.section("CI: skipped tests fail the run", red=True)
        for line in ci_gate.ci_failure_lines(skipped):
            terminalreporter.write_line(line, red=True)
