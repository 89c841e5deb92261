"""Which failed QEMU boots are tried again (devbench.qemu.retry): an early panic (before any init
spoke, e.g. TCG's int3 in sched_clock_cpu) has a budget of its own, larger than `retries`."""

from __future__ import annotations

import pytest

from devbench.qemu.machine import QemuSpec, console_lines
from devbench.qemu.retry import EARLY_PANIC_RETRIES, PORT_RETRIES, RetryBudget, panic_kind, should_retry

# The early TCG panic as a console shows it (x86_64, -accel tcg,thread=multi -smp 2), after
# SeaBIOS's screen reset.
TCG_EARLY = (
    "SeaBIOS (version 1.16.3-debian-1.16.3-2)\r\n\x1bc\x1b[?7l\x1b[2J"
    "[    0.482113] int3: 0000 [#1] PREEMPT SMP NOPTI\r\n"
    "[    0.482130] CPU: 1 UID: 0 PID: 0 Comm: swapper/1 Not tainted 6.12.43 #1\r\n"
    "[    0.482201] RIP: 0010:sched_clock_cpu+0x10/0x1a0\r\n"
    "[    0.482999] Kernel panic - not syncing: Fatal exception in interrupt\r\n"
    "[    0.483101] ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---\r\n"
)
AFTER_INIT = (
    "[    0.000000] Linux version 6.12.43 (root@host) #1 SMP\n"
    "devbench-guest-init: starting\n"
    "[    3.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
    "[    3.100500] Kernel panic - not syncing: Fatal exception\n"
)
AFTER_INITRAMFS = (
    "devbench-initramfs: 6.12.43-amd64: loading modules\n"
    "[    2.000000] Kernel panic - not syncing: Fatal exception\n"
)
NO_INIT = (
    "[    1.052301] Run /nonexistent as init process\n"
    "[    1.058001] Kernel panic - not syncing: Requested init /nonexistent failed (error -2).\n"
)
NO_WORKING_INIT = (
    "[    1.058001] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.\n"
)
NO_ROOT = ("[    1.2] VFS: Cannot open root device \"vda\" or unknown-block(0,0): error -6\n"
           "[    1.3] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n")
INIT_KILLED = ("devbench-guest-init: starting\nDEVBENCH-GUEST-FAILED: sshd exited\n"
               "[    9.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n")


@pytest.mark.parametrize("text,kind", [
    (TCG_EARLY, "early-panic"),
    (AFTER_INIT, "failed"),
    (AFTER_INITRAMFS, "failed"),
    (NO_INIT, "failed"),
    (NO_WORKING_INIT, "failed"),
    (NO_ROOT, "failed"),
    (INIT_KILLED, "failed"),
    (TCG_EARLY + "devbench-guest-init: starting\n", "early-panic"),  # only lines before the panic count
])
def test_panic_kind(text: str, kind: str) -> None:
    assert panic_kind(console_lines(text)) == kind


def test_an_early_panic_is_retried_until_its_own_budget_runs_out() -> None:
    budget = RetryBudget(failed=0)
    assert budget.early_panic == EARLY_PANIC_RETRIES == 5
    history: list = []
    decisions = []
    for _ in range(EARLY_PANIC_RETRIES + 1):
        history.append("early-panic")
        decisions.append(should_retry(history, budget))
    assert decisions == [True] * EARLY_PANIC_RETRIES + [False]  # 6 attempts in all, then the boot fails


def test_budgets_are_counted_per_kind() -> None:
    budget = RetryBudget(failed=2, early_panic=5)
    # two early panics do not use up `retries`: two ordinary failures still get their retries
    assert should_retry(["early-panic", "early-panic", "failed"], budget)
    assert should_retry(["early-panic", "failed", "early-panic", "failed"], budget)
    assert not should_retry(["failed", "failed", "early-panic", "failed"], budget)
    # and ordinary failures do not use up the early-panic budget
    assert should_retry(["failed", "failed", "early-panic"], budget)


def test_port_clashes_and_fatal_errors() -> None:
    budget = RetryBudget(failed=0)
    assert should_retry(["port"] * PORT_RETRIES, budget)
    assert not should_retry(["port"] * (PORT_RETRIES + 1), budget)
    assert not should_retry(["fatal"], RetryBudget(failed=20, early_panic=20))
    assert not should_retry(["failed"], budget)  # retries: 0 means one attempt
    with pytest.raises(ValueError):
        should_retry([], budget)
    with pytest.raises(ValueError):
        RetryBudget(failed=-1)


def test_spec_carries_the_early_panic_budget(tmp_path) -> None:
    assert QemuSpec("x86_64", tmp_path / "k", tmp_path / "i").early_panic_retries == EARLY_PANIC_RETRIES
    with pytest.raises(ValueError, match="early_panic_retries >= 0"):
        QemuSpec("x86_64", tmp_path / "k", tmp_path / "i", early_panic_retries=-1)
