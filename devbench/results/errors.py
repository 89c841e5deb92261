"""A target's errors as a reader wants them: one line per cause, with the scenarios it hit
(the named arm refused in three scenarios is one fact, said once, not three lines) (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devbench.results.rows import record_vmas, with_vmas

# what a refusal (devbench.device.fit, decided before any change) is called where space is short
REFUSED = {"kernel-lacks-anon-vma-name": "no CONFIG_ANON_VMA_NAME",
           "not-enough-memory": "not enough memory",
           "map-count-too-low": "vm.max_map_count too low"}


@dataclass(frozen=True)
class Cause:
    kind: str
    arm: str | None
    message: str
    scenarios: tuple[str, ...]  # in the order the errors were recorded; () for the whole target

    def where(self) -> str:
        """"unpopulated/named", "unpopulated, 1 page, 10 pages/named", "" (the whole target)."""
        return "/".join(x for x in (", ".join(self.scenarios), self.arm) if x)

    def place(self) -> str:
        """"the named arm of unpopulated, 1 page, 10 pages", "unpopulated", "" (the whole target)."""
        scenarios = ", ".join(self.scenarios)
        return f"the {self.arm} arm of {scenarios}" if self.arm and scenarios else scenarios or self.arm or ""

    def line(self) -> str:
        """kind (where): message, as under the table."""
        where = self.where()
        return f"{self.kind}{' (' + where + ')' if where else ''}: {self.message}"


def causes(errors: Iterable[dict[str, Any]], target: str, sweep: bool = False) -> list[Cause]:
    """The target's errors, those with the same kind, arm and words as one, in the order they
    first happened. sweep: the run has several VMA counts, and a scenario is named with the
    count its error was of ("unpopulated @ 65536 VMAs"; an error of every count: the name alone)."""
    found: dict[tuple[str, str | None, str], list[str]] = {}
    for e in errors:
        if not isinstance(e, dict) or e.get("target") != target:
            continue
        scenarios = found.setdefault((str(e.get("kind")), e.get("arm"), str(e.get("message"))), [])
        name = with_vmas(str(e["scenario"]), record_vmas(e, None), sweep) if e.get("scenario") else None
        if name and name not in scenarios:
            scenarios.append(name)
    return [Cause(kind, arm, message, tuple(sc)) for (kind, arm, message), sc in found.items()]


def failure_text(errors: Iterable[dict[str, Any]], target: str, sweep: bool = False) -> str:
    """Why a target failed, every cause named: "the named arm of unpopulated, 1 page, 10 pages:
    the kernel's config has no CONFIG_ANON_VMA_NAME: ..."; causes apart with "; "."""
    live = [e for e in errors if isinstance(e, dict) and not e.get("resumed")]  # a resume answered those
    return "; ".join(f"{c.place() + ': ' if c.place() else ''}{c.message}" for c in causes(live, target, sweep))
