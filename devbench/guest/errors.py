"""Error type of the test lab."""

from __future__ import annotations


class LabError(Exception):
    """A lab step failed.

    ``step`` names what was being done (``"mirror"``, ``"rootfs"``, ``"netns"``, ...),
    ``detail`` says what went wrong (for a failed command: its output tail).
    """

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"lab {step}: {detail}")
        self.step = step
        self.detail = detail
