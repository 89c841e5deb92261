"""Whether a failed QEMU boot is tried again (pure).

Each kind of failed attempt has its own budget:
- "port": QEMU could not bind a forwarded port (another process took it between our choice and
  QEMU's bind): tried again with new ports, up to PORT_RETRIES times;
- "early-panic": the kernel panicked before any init printed a line (the guest init or the
  stock kernel's initramfs). Under TCG with several vCPUs about 1 boot in 6 hits such a panic
  (an int3 in sched_clock_cpu while the kernel patches its own code); it says nothing about
  the kernel or the guest, so it gets a budget of its own, EARLY_PANIC_RETRIES by default;
- "failed": any other failure (a later panic, the guest init failing, a hang, QEMU exiting):
  tried again QemuSpec.retries times;
- "fatal": QEMU cannot start this at all (missing kernel, bad option): never tried again.

A panic that says the init itself or the root file system failed ("No working init found",
"Requested init ... failed", "Attempted to kill init", "Unable to mount root fs") is a
"failed" boot, not an early panic: it repeats on every boot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .image import FAILED_MARKER, READY_MARKER

FailureKind = Literal["port", "early-panic", "failed", "fatal"]

PORT_RETRIES = 5
EARLY_PANIC_RETRIES = 5

# A line printed by an init of devbench's own: the guest init, or the stock kernel's initramfs.
_INIT_SPOKE = ("devbench-guest-init:", "devbench-initramfs:", FAILED_MARKER, READY_MARKER)
# A panic that repeats on every boot: the init or the root file system is missing or broken.
_INIT_OR_ROOT_PANIC = re.compile(r"No working init found|Requested init \S+ failed|Attempted to kill init|"
                                 r"Unable to mount root fs|VFS: Cannot open root device", re.I)


@dataclass(frozen=True)
class RetryBudget:
    """How many attempts of each kind may be tried again (QemuSpec.retries for "failed")."""

    failed: int
    early_panic: int = EARLY_PANIC_RETRIES
    port: int = PORT_RETRIES

    def __post_init__(self) -> None:
        if min(self.failed, self.early_panic, self.port) < 0:
            raise ValueError("retry budgets are >= 0")


def panic_kind(lines: Sequence[str]) -> FailureKind:
    """The kind of a boot that ended in a kernel panic, from its console lines (clean, in order):
    "early-panic" if no init had spoken before the panic and it is not an init/root panic,
    else "failed"."""
    before: list[str] = []
    for line in lines:
        if "Kernel panic" in line:
            break
        before.append(line)
    if any(marker in line for line in before for marker in _INIT_SPOKE):
        return "failed"
    if any(_INIT_OR_ROOT_PANIC.search(line) for line in lines):
        return "failed"
    return "early-panic"


def should_retry(history: Sequence[FailureKind], budget: RetryBudget) -> bool:
    """After the failed attempts ``history`` (oldest first, the latest last): try once more?

    The latest attempt's kind is retried while attempts of that kind so far do not exceed its
    budget; other kinds' attempts do not use it up."""
    if not history:
        raise ValueError("should_retry needs at least the failed attempt it decides about")
    kind = history[-1]
    if kind == "fatal":
        return False
    allowed = {"port": budget.port, "early-panic": budget.early_panic, "failed": budget.failed}[kind]
    return sum(1 for k in history if k == kind) <= allowed
