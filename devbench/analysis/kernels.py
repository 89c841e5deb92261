"""Kernels compared in one run (a QEMU target's kernels:, devbench.run.boots): kernel B against
kernel A (the first of the list), per scenario and arm, the boot as the unit (pure).

Why the boot: under instruction counting a boot's memory history changes the instruction path
(the same scenario differed by 2.2% between two boots, while three processes of one boot agreed
within 0.01%), so a kernel's batches are replicates of its boot, not of the kernel. Each boot
counts as one number per scenario and arm: the mean of its batch means. The change is the
estimate its CI is built on, the ratio of the kernels' geometric mean boot means (the ratio of
the plain means where there is no CI); its CI is a two-sample t interval on the log boot means
(Student's, pooled variance, at equal boot counts; Welch's otherwise), and p its t test. The
boots alternate (A B B A ...), so a drift linear in time shifts both kernels alike; any drift
only widens the interval (docs/statistics.md, "Kernels compared": calibrated by simulation).
Fewer than Options.min_boots boots of either kernel: the change with no CI and no verdict.
Holm applies over the rows of each kernel pair (every scenario, both arms).

Also here: which kernel and architecture every row is about (kernel_label, arch_label).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from devbench.analysis.compare import pooled, run_means, two_sample_log_interval
from devbench.analysis.describe import describe_arm
from devbench.analysis.effect import fork_p_values, with_interval
from devbench.analysis.model import Effect, KernelPair, Options, Row, RunMeans
from devbench.analysis.run import Pending, finish_rows
from devbench.analysis.samples import ARMS, ArmData, ScenarioData, group

POOLED_TEST, WELCH_TEST = "t, log boot means", "Welch t, log boot means"  # named in devbench.analysis.method
ARCH_NAMES = {"aarch64": "arm64", "amd64": "x86_64"}  # the kernel's name of an architecture


def _record(data: dict[str, Any], target: str) -> dict[str, Any]:
    return next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == target), {})


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _configured(data: dict[str, Any], target: str) -> dict[str, Any]:
    targets = ((data.get("run") or {}).get("config") or {}).get("targets") or []
    found = next((t for t in targets if isinstance(t, dict) and t.get("name") == target), {})
    return found if isinstance(found, dict) else {}


def kernel_label(data: dict[str, Any], target: str) -> str | None:
    """The kernel a target's rows are about: its name in kernels:, a variant's name, feature or
    stock, an image's file name; for any other device its kernel release."""
    rec = _record(data, target)
    if isinstance(rec.get("kernel"), str):
        return str(rec["kernel"])
    info = _mapping(rec.get("transport_info"))
    if info.get("kernel_variant"):
        return str(info["kernel_variant"])
    qemu = _configured(data, target).get("qemu")
    if isinstance(qemu, dict) or rec.get("transport") == "qemu":
        kernel = (qemu or {}).get("kernel", "feature") if isinstance(qemu, dict) else info.get("kernel")
        if isinstance(kernel, dict):
            return str(kernel.get("name") or "variant")
        if isinstance(kernel, str):
            return kernel if kernel in ("feature", "stock") else Path(kernel).name
    release = _mapping(rec.get("facts")).get("kernel_release")
    return str(release) if release else None


def arch_label(data: dict[str, Any], target: str) -> str | None:
    """The architecture of a target, as the kernel names it (x86_64, arm64, armv7, ...)."""
    rec = _record(data, target)
    info, facts = _mapping(rec.get("transport_info")), _mapping(rec.get("facts"))
    qemu = _configured(data, target).get("qemu")
    found = info.get("arch") or facts.get("abi") or facts.get("machine") or (
        qemu.get("arch") if isinstance(qemu, dict) else None)
    return ARCH_NAMES.get(str(found), str(found)) if found else None


def kernel_sets(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(configured target, its kernels' targets in the order of its kernels:), for every target
    whose kernels the run compared (target records with kernels_of)."""
    sets: dict[str, list[tuple[int, str]]] = {}
    for rec in data.get("targets") or []:
        if isinstance(rec, dict) and isinstance(rec.get("kernels_of"), str) and isinstance(rec.get("name"), str):
            index = rec.get("kernel_index")
            sets.setdefault(rec["kernels_of"], []).append((index if isinstance(index, int) else 0, rec["name"]))
    return [(owner, [name for _, name in sorted(members)]) for owner, members in sets.items()]


Case = tuple[int | None, str]  # a row's VMA count and scenario


def per_boot(data: dict[str, Any], target: str, metric: str) -> list[tuple[int | None, dict[Case, ScenarioData]]]:
    """(boot, (VMA count, scenario) -> its data in that boot) for every boot of a target, in boot order."""
    samples = [s for s in data.get("samples") or [] if s.get("target") == target]
    boots = sorted({s.get("boot") for s in samples}, key=lambda b: -1 if b is None else b)
    out = []
    for boot in boots:
        only = {**data, "samples": [s for s in samples if s.get("boot") == boot]}
        out.append((boot, {(sd.vmas, sd.scenario): sd for sd in group(only, metric)}))
    return out


def few_boots_reason(na: int, nb: int, a: str, b: str, options: Options) -> str:
    return (f"{na} boot(s) of {a} and {nb} of {b}: a kernel's boots differ (a boot's memory history changes the "
            f"instruction path), so a kernel cannot be told from a boot; set boots: {options.min_boots} or more")


def boot_effect(a: list[ArmData], b: list[ArmData], names: tuple[str, str], options: Options) -> Effect | None:
    """Kernel B's boots against kernel A's, one number per boot (the mean of its batch means)."""
    ma, mb = run_means(a), run_means(b)
    fa, fb = pooled(a).forks, pooled(b).forks
    if fa.size < 2 or fb.size < 2 or ma.size == 0 or mb.size == 0 or ma.mean() == 0:
        return None
    change = float((mb.mean() / ma.mean() - 1.0) * 100.0)
    p_w, p_m, cd = fork_p_values(fb, fa, options)
    n = int(min(ma.size, mb.size))
    if n < max(options.min_boots, 2) or not (np.all(ma > 0) and np.all(mb > 0)):
        return Effect(change, None, None, "none", "boot", n, "none", None, p_w, p_m, cd,
                      few_boots_reason(int(ma.size), int(mb.size), *names, options))
    t = two_sample_log_interval(np.log(ma), np.log(mb), options.confidence)
    return with_interval(Effect(change, None, None, "independent", "boot", n,
                                POOLED_TEST if ma.size == mb.size else WELCH_TEST, None, p_w, p_m, cd), t)


def _mean(sd: ScenarioData | None, arm: str) -> float | None:
    means = sd.arms[arm].batch_means() if sd is not None else np.empty(0)
    return float(means.mean()) if means.size else None


def kernel_pair(data: dict[str, Any], owner: str, ta: str, tb: str, options: Options,
                metric: str = "fork") -> tuple[tuple[Row, ...], tuple[RunMeans, ...], tuple[int, ...], tuple[int, ...]]:
    """Rows (every scenario, at every VMA count, of kernel A that kernel B has too, both arms, one
    Holm family), each boot's means, and the boots of each kernel."""
    ka, kb = kernel_label(data, ta) or ta, kernel_label(data, tb) or tb
    arch = arch_label(data, ta) or arch_label(data, tb)
    boots_a, boots_b = per_boot(data, ta, metric), per_boot(data, tb, metric)
    cases = [c for c in dict.fromkeys(c for _, g in boots_a for c in g) if any(c in g for _, g in boots_b)]
    pending: list[Pending] = []
    means = []
    for case in cases:
        vmas, sc = case
        side_a = [g[case] for _, g in boots_a if case in g]
        side_b = [g[case] for _, g in boots_b if case in g]
        for arm in ARMS:
            xa, xb = [sd.arms[arm] for sd in side_a], [sd.arms[arm] for sd in side_b]
            pending.append(Pending(owner, sc, arm, side_a[0].pages, describe_arm(pooled(xa), options),
                                   describe_arm(pooled(xb), options), boot_effect(xa, xb, (ka, kb), options), vmas))
            means.append(RunMeans(sc, arm, tuple(_mean(g.get(case), arm) for _, g in boots_a),
                                  tuple(_mean(g.get(case), arm) for _, g in boots_b), vmas))
    rows = tuple(replace(r, kernel=kb, base_kernel=ka, arch=arch) for r in finish_rows(pending, options, metric))
    return (rows, tuple(means), tuple(b for b, _ in boots_a if b is not None),
            tuple(b for b, _ in boots_b if b is not None))


def kernel_pairs(data: dict[str, Any], options: Options = Options()) -> tuple[KernelPair, ...]:
    """Every target's kernels compared: each kernel after the first against the first."""
    out = []
    with_exit = any(s.get("exit_ns") for s in data.get("samples") or [])
    for owner, members in kernel_sets(data):
        if len(members) < 2:
            continue
        ta = members[0]
        for tb in members[1:]:
            rows, means, boots_a, boots_b = kernel_pair(data, owner, ta, tb, options)
            exit_rows = kernel_pair(data, owner, ta, tb, options, "exit")[0] if with_exit else ()
            out.append(KernelPair(owner, arch_label(data, ta) or arch_label(data, tb),
                                  kernel_label(data, ta) or ta, kernel_label(data, tb) or tb, ta, tb,
                                  rows, exit_rows, means, boots_a, boots_b))
    return tuple(out)
