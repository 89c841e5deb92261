"""Kernels compared in one run: which kernel each boot of a target runs, in which order (pure).

A QEMU target with ``kernels:`` (devbench.kernel.choice) boots its kernels one after the
other, each ``boots`` times, in rounds that alternate direction: A B | B A | A B | B A ...
(for three kernels A B C | C B A | ...). With an even number of boots each kernel's mean
position in time is the same, so a drift linear in time cancels in the kernels' difference;
with an odd number they differ by at most one slot. Each boot runs the whole plan.

The boot is the unit of anything compared across kernels: under instruction counting
(icount) separate boots are not interchangeable (a boot's memory history changes the
instruction path by up to ~2%, docs/statistics.md "Kernels compared"), so the analysis takes
one number per boot, never the batches of several boots as replicates.

A kernel's boots record their batches numbered on from its earlier boots (``batch_offset``),
so that each kernel's target in results.json holds every batch of every boot once, and each
sample says its boot (``boot``: the slot in the target's boot order, from 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from devbench.config import TargetConfig
from devbench.kernel.choice import kernel_record_name


@dataclass(frozen=True)
class Boot:
    """One boot of a kernel in a target's boot order."""

    slot: int          # its place in the target's boot order, from 1 (what samples record as "boot")
    of_kernel: int     # this kernel's how-many-th boot, from 0
    boots: int         # boots of this kernel in all
    total: int         # boots of the target in all
    batch_offset: int  # of_kernel x batches: the batch numbers of earlier boots of the kernel come first

    @property
    def last_of_kernel(self) -> bool:
        return self.of_kernel == self.boots - 1

    def label(self, target: str) -> str:
        """The boot's name for its files in the run folder (console-<label>-<attempt>.log)."""
        return f"{target}-boot{self.slot}"

    def describe(self) -> str:
        return f"boot {self.slot} of {self.total} (this kernel's {self.of_kernel + 1} of {self.boots})"


def boot_order(kernels: int, boots: int) -> list[tuple[int, int]]:
    """(kernel index, that kernel's boot number from 0) in time order: rounds over every kernel,
    forward in even rounds and backward in odd ones (two kernels: A B B A A B B A)."""
    order, done = [], [0] * kernels
    for r in range(boots):
        for k in (range(kernels) if r % 2 == 0 else reversed(range(kernels))):
            order.append((k, done[k]))
            done[k] += 1
    return order


def boots_of(kernels: int, boots: int, batches: int) -> list[tuple[int, Boot]]:
    """(kernel index, Boot) for every boot of a target, in time order."""
    order = boot_order(kernels, boots)
    return [(k, Boot(slot, j, boots, len(order), j * batches)) for slot, (k, j) in enumerate(order, 1)]


def kernel_targets(tcfg: TargetConfig) -> list[TargetConfig]:
    """One target per kernel of ``kernels:`` (its results' own target, ``<target>-<kernel>``)."""
    options = tcfg.options
    kernels = getattr(options, "kernels", ())
    return [replace(tcfg, name=kernel_record_name(tcfg.name, k.name), options=options.for_kernel(k))  # type: ignore[union-attr]
            for k in kernels]


def compares_kernels(tcfg: TargetConfig) -> bool:
    return bool(getattr(tcfg.options, "kernels", ()))


def boot_batches(done: dict[int, int], boot: Boot | None, batches: int) -> dict[int, int]:
    """{batch: forks recorded} of one boot, numbered as its payload numbers them (from 0), out of
    the kernel's record (every boot's batches, each boot's numbered on from the one before)."""
    if boot is None:
        return done
    lo = boot.batch_offset
    return {b - lo: n for b, n in done.items() if lo <= b < lo + batches}
