"""Error type of kernel builds and checks."""

from __future__ import annotations

from ..errors import DevbenchError


class KernelError(DevbenchError):
    """A kernel step failed.

    ``step`` names what was being done (``"source"``, ``"config"``, ``"build"``, ...),
    ``detail`` says what went wrong (for a failed command: its output tail), ``log`` is the
    path of the full build log when there is one.
    """

    def __init__(self, step: str, detail: str, log: str | None = None) -> None:
        self.step = step
        self.detail = detail
        self.log = log
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (log {self.log})" if self.log else ""
        return f"kernel {self.step}{where}: {self.detail}"
