"""What a test run covered, per kind of test, and the CI rule on skips (pure; the pytest hooks
are in tests/conftest.py).

Kinds are markers: lab, qemu, lava, browser, fresh; a test with none of them is a unit test. A test
may be of several kinds (the QEMU tests are lab tests too) and counts in each. With CI=true a
skipped lab, qemu, lava, browser or fresh test fails the run: a CI machine that cannot run the lab
(not root, no network namespaces, no QEMU, no Chromium) must not go green.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

KINDS = ("unit", "lab", "qemu", "lava", "browser", "fresh")
MUST_RUN = ("lab", "qemu", "lava", "browser", "fresh")  # kinds whose skip fails a CI run
OUTCOMES = ("passed", "failed", "skipped")
LAB_FIXTURES = frozenset({"lab_usable", "adb_server"})  # a test using any of these drives the lab


def is_ci(environ: Mapping[str, str]) -> bool:
    """CI=true (or 1/yes, any case) in the environment."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def kinds_of(markers: Iterable[str]) -> tuple[str, ...]:
    """The kinds of a test with these marker names ("unit" when it has none of the others)."""
    names = set(markers)
    found = tuple(k for k in KINDS[1:] if k in names)
    return found or ("unit",)


def missing_lab_marker(fixtures: Iterable[str], markers: Iterable[str]) -> bool:
    """A test that uses the lab's fixtures must be marked lab (so CI counts and checks it)."""
    return bool(LAB_FIXTURES.intersection(fixtures)) and "lab" not in set(markers)


@dataclass
class Outcome:
    """A test's result over its phases: failed if any phase failed, else skipped if a phase
    skipped, else passed."""

    nodeid: str
    kinds: tuple[str, ...]
    outcome: str = "passed"
    reason: str = ""

    def add(self, outcome: str, reason: str = "") -> None:
        if outcome == "failed" or (outcome == "skipped" and self.outcome == "passed"):
            self.outcome, self.reason = outcome, reason


@dataclass
class Tally:
    tests: dict[str, Outcome] = field(default_factory=dict)

    def record(self, nodeid: str, kinds: tuple[str, ...], outcome: str, reason: str = "") -> None:
        self.tests.setdefault(nodeid, Outcome(nodeid, kinds)).add(outcome, reason)

    def counts(self) -> dict[str, dict[str, int]]:
        out = {k: dict.fromkeys(OUTCOMES, 0) for k in KINDS}
        for t in self.tests.values():
            for k in t.kinds:
                out[k][t.outcome] += 1
        return out

    def forbidden_skips(self) -> list[Outcome]:
        """Skipped tests of a kind that must run in CI."""
        return [t for t in self.tests.values() if t.outcome == "skipped" and set(t.kinds) & set(MUST_RUN)]


def summary_lines(tally: Tally) -> list[str]:
    """One line per kind: how many of its tests passed, failed and were skipped."""
    counts = tally.counts()
    width = max(map(len, KINDS))
    lines = []
    for kind in KINDS:
        c = counts[kind]
        ran = sum(c.values())
        lines.append(f"{kind:<{width}}  {ran:>4} ran: " + ", ".join(f"{c[o]} {o}" for o in OUTCOMES) if ran
                     else f"{kind:<{width}}     0 ran")
    return lines


def ci_failure_lines(skipped: list[Outcome]) -> list[str]:
    """Why a CI run fails: each skipped lab/qemu/lava/browser/fresh test and its skip reason."""
    head = (f"CI=true: {len(skipped)} lab/qemu/lava/browser/fresh test(s) were skipped, so this run did not test what "
            "it must; the run fails. Fix the machine (scripts/dev test sets it up), not the tests:")
    return [head, *(f"  SKIPPED {t.nodeid} [{'/'.join(t.kinds)}]: {t.reason}" for t in skipped)]
