"""Required device conditions (`device.require: [...]`, `devbench run --strict`): which of a
run's recorded warnings break which requirement (pure: reads results, prints nothing).

A requirement is met on a target when none of its warnings says otherwise. The warnings are
the ones devbench records (devbench.device.actions, .conditions, the targets), matched by the
words they start with, so a new warning that says "clocks not locked: ..." counts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# name: (what it asks for, does this warning break it?)
REQUIREMENTS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "clocks_locked": ("CPU clocks locked",
                      lambda w: "clocks not locked" in w or w.startswith("cpufreq not available")),
    "no_throttling": ("no thermal throttling", lambda w: w.startswith("thermal throttling seen")),
    "not_emulator": ("a real device, not an emulator",
                     lambda w: w.startswith(("Android emulator", "emulator smoke run", "QEMU guest"))),
    "framework_stopped": ("Android framework stopped", lambda w: w.startswith("framework still running")),
}
STRICT = tuple(REQUIREMENTS)  # --strict: every requirement


@dataclass(frozen=True)
class Unmet:
    target: str
    requirement: str
    warning: str

    def line(self) -> str:
        return f"{self.target}: required {self.requirement} ({REQUIREMENTS[self.requirement][0]}), but: {self.warning}"


def breaks(warning: str) -> list[str]:
    """The requirements a warning breaks (none for a warning that is only information)."""
    return [name for name, (_, hit) in REQUIREMENTS.items() if hit(warning)]


def unmet(data: dict[str, Any], required: Iterable[str]) -> list[Unmet]:
    """Every (target, requirement, warning) of a results dict that breaks one of `required`."""
    want = [r for r in dict.fromkeys(required) if r in REQUIREMENTS]
    out = []
    for t in data.get("targets") or []:
        if not isinstance(t, dict):
            continue
        for w in t.get("warnings") or []:
            if isinstance(w, str):
                out += [Unmet(str(t.get("name")), r, w) for r in breaks(w) if r in want]
    return out
