"""Will the scenarios fit on this device? Decided from the probed facts, before any change (pure).

Refusals carry their numbers: memory for VMAs x pages against MemAvailable, the map count
against vm.max_map_count (when devbench cannot raise it), and the named arm on a kernel
whose config says it lacks CONFIG_ANON_VMA_NAME.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from devbench.config import BenchmarkConfig, DeviceConfig, Scenario
from devbench.device.probe import Facts
from devbench.run.plan import required_map_count

VMA_KERNEL_BYTES = 512  # vm_area_struct, anon_vma chain and name, per VMA, with slab overhead
HEADROOM = 1.10  # keep 10% of MemAvailable free
# the same words for every scenario (the error names its scenario): one line where they are listed
NO_ANON_VMA_NAME = "the kernel's config has no CONFIG_ANON_VMA_NAME: the named arm cannot run (the unnamed arm does)"


@dataclass(frozen=True)
class Refusal:
    scenario: str
    arm: str | None  # None: the whole scenario
    kind: str  # not-enough-memory | map-count-too-low | kernel-lacks-anon-vma-name
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    vmas: int | None = None  # the VMA count refused (a sweep); None: every count

    @property
    def key(self) -> tuple[int | None, str, str | None]:
        """What the plan leaves out (devbench.run.plan.plan's `refused`)."""
        return (self.vmas, self.scenario, self.arm)


def memory_needed(bench: BenchmarkConfig, scenario: Scenario, page_size: int, vmas: int | None = None) -> int:
    """Bytes the payload needs at its peak with `vmas` VMAs (default: the config's largest count):
    the populated pages, the page tables of the parent and of one child (fork copies them for
    populated anonymous VMAs), and the kernel's per-VMA structures in both."""
    n = max(bench.vma_counts) if vmas is None else vmas
    data = n * scenario.pages * page_size
    span = n * (scenario.pages + 1) * page_size  # each VMA is followed by a guard gap
    page_tables = -(-span // (512 * page_size)) * page_size if scenario.pages else 0
    return data + 2 * (page_tables + n * VMA_KERNEL_BYTES)


def check_fit(bench: BenchmarkConfig, facts: Facts, device: DeviceConfig, root: bool) -> list[Refusal]:
    """Per VMA count (a sweep refuses only the counts that do not fit; the error names its count)."""
    out: list[Refusal] = []
    for vmas in bench.vma_counts:
        out += _fit(bench, facts, device, root, vmas)
    if facts.has_anon_vma_name is False and not bench.placebo:  # the A/A check names nothing: it runs
        for sc in bench.scenarios:
            if not all(any(r.scenario == sc.name and r.arm is None and r.vmas == v for r in out)
                       for v in bench.vma_counts):
                out.append(Refusal(sc.name, "named", "kernel-lacks-anon-vma-name", NO_ANON_VMA_NAME,
                                   {"kernel_config": "ANON_VMA_NAME not set"}))
    if not bench.sweep:  # one count: a refusal is of the scenario, as before sweeps
        out = [replace(r, vmas=None) for r in out]
    return out


def _fit(bench: BenchmarkConfig, facts: Facts, device: DeviceConfig, root: bool, vmas: int) -> list[Refusal]:
    out: list[Refusal] = []
    page = facts.page_size or 4096
    need_maps = required_map_count(bench, vmas)
    asked = required_map_count(bench) if device.max_map_count == "auto" else int(device.max_map_count or 0)
    can_raise = root and asked >= need_maps
    at = f" at {vmas} VMAs" if bench.sweep else ""
    if facts.max_map_count is not None and facts.max_map_count < need_maps and not can_raise:
        why = "not root, so it cannot be raised" if not root else f"device.max_map_count asks for only {asked}"
        for sc in bench.scenarios:
            out.append(
                Refusal(
                    sc.name,
                    None,
                    "map-count-too-low",
                    f"scenario {sc.name!r}{at} needs vm.max_map_count >= {need_maps} ({vmas} VMAs + "
                    f"{need_maps - vmas} for the process), the device has {facts.max_map_count} ({why})",
                    {"needed": need_maps, "max": facts.max_map_count},
                    vmas,
                )
            )
    if facts.mem_available_kb is not None:
        have = facts.mem_available_kb * 1024
        for sc in bench.scenarios:
            need = memory_needed(bench, sc, page, vmas)
            if need * HEADROOM > have and not any(r.scenario == sc.name and r.arm is None for r in out):
                out.append(
                    Refusal(
                        sc.name,
                        None,
                        "not-enough-memory",
                        f"scenario {sc.name!r}{at} needs about {_mib(need)} ({vmas} VMAs x {sc.pages} pages x "
                        f"{page} B + page tables and VMA structures, +10% headroom), the device has "
                        f"{_mib(have)} available (MemAvailable)",
                        {"needed_bytes": need, "available_bytes": have},
                        vmas,
                    )
                )
    return out


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n < 10 * 2**30 else f"{n / 2**30:.1f} GiB"
