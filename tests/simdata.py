"""Simulated results.json dicts with the real payload's shape (schema 2: fork_ns and exit_ns),
for the analysis, report and calibration tests. A simulated run has a time order.

Each arm's batch is a slot in time, in the order the design runs them:
- interleaved: one process, batch b runs named then unnamed when b is even, else unnamed then
  named (the payload's order);
- separate: one process per arm and batch, in the same alternating order (devbench's plan);
- sequential: one process per arm, all unnamed batches, then all named ones (the seed's
  order, and old separate-mode results).

The log fork time of a fork in slot s is the scenario's base time, plus the named arm's shift,
plus drift(s) (the drift model), plus a time-local factor shared by the two slots of one batch
(sd batch_sd: what runs side by side shares), plus a per-slot factor (sd arm_batch_sd), plus a
per-process factor (sd process_sd, new at every process start: separate slots, sequential
arms, resume points and adaptive rounds), plus a run factor (sd run_sd: the boot, build and
device state a whole run shares), plus lognormal fork noise (sigma). Drift models:

  none     nothing over time
  linear   +2% from the first slot to the last (a device warming up)
  walk     random walk, sd 0.5% per slot
  step     +2% from a random slot on
  warmup   +6% in the first slot, decaying by half every slot
  bimodal  each fork is slow (x2.1) with a probability that differs per slot (about 30%),
           as on emulated devices (~95 and ~200 ms)

The child's exit (exit_ns) follows the same model at 0.3 of the fork time, shifted by
exit_shifts[scenario] in the named arm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devbench.results.store import new_results

SCENARIOS = (("unpopulated", 0, 16.36), ("1 page", 1, 22.0), ("10 pages", 10, 60.0))
DRIFTS = ("none", "linear", "walk", "step", "warmup", "bimodal")
ORDERS = ("interleaved", "separate", "sequential")


def drift_path(rng: np.random.Generator, kind: str, slots: int) -> np.ndarray:
    """Log offsets per slot, in time order."""
    s = np.arange(slots, dtype=np.float64)
    if kind in ("none", "bimodal"):
        return np.zeros(slots)
    if kind == "linear":
        return np.log1p(0.02) * s / max(slots - 1, 1)
    if kind == "walk":
        return np.cumsum(rng.normal(0.0, 0.005, slots))
    if kind == "step":
        return np.where(s >= rng.integers(1, max(slots, 2)), np.log1p(0.02), 0.0)
    if kind == "warmup":
        return np.log1p(0.06 * 0.5 ** s)
    raise ValueError(f"unknown drift model {kind!r} (one of {', '.join(DRIFTS)})")


def schedule(order: str, batches: int, round_batches: int | None = None) -> list[tuple[int, str]]:
    """(batch, arm) in time order. round_batches: adaptive rounds of that many batches, each a new
    payload process whose order starts again with named first (batch numbers go on)."""
    if order == "sequential":
        return [(b, arm) for arm in ("unnamed", "named") for b in range(batches)]
    local = (lambda b: b % round_batches) if round_batches else (lambda b: b)
    return [(b, arm) for b in range(batches)
            for arm in (("named", "unnamed") if local(b) % 2 == 0 else ("unnamed", "named"))]


def process_ids(order: str, slots: list[tuple[int, str]], restarts: tuple[int, ...]) -> list[tuple]:
    """Which process ran each slot (a new id: a new process factor)."""
    if order == "separate":
        return [(b, arm) for b, arm in slots]
    if order == "sequential":
        return [(arm, sum(b >= r for r in restarts)) for b, arm in slots]
    return [(sum(b >= r for r in restarts),) for b, _ in slots]


def fork_times(rng: np.random.Generator, level: float, n: int, sigma: float, drift: str) -> np.ndarray:
    x = rng.lognormal(level, sigma, n)
    if drift == "bimodal":
        p_slow = rng.beta(6.0, 14.0)  # about 30% slow forks, differing from slot to slot
        x = np.where(rng.random(n) < p_slow, x * 2.1, x)
    return x


def make_results(*, shifts: dict[str, float] | None = None, batches: int = 10, per_batch: int = 100,
                 mode: str = "interleaved", seed: int = 1, target: str = "phone", model: str = "Pixel 6",
                 scenarios=SCENARIOS, scale: float = 1.0, drift: str = "none", order: str | None = None,
                 run_sd: float = 0.0, process_sd: float = 0.01, batch_sd: float = 0.02,
                 arm_batch_sd: float = 0.005, sigma: float = 0.08, restarts: tuple[int, ...] = (),
                 exit_shifts: dict[str, float] | None = None, with_exit: bool = True,
                 round_batches: int | None = None) -> dict[str, Any]:
    """A finished run: one target, the given scenarios, named shifted by shifts[scenario].
    order: interleaved, separate or sequential (default: the mode's: interleaved or separate);
    restarts: batch numbers where a new payload process starts (a resume); round_batches:
    adaptive rounds of that many batches (a new process each, its order from named first)."""
    rng = np.random.default_rng(seed)
    order = order or ("interleaved" if mode == "interleaved" else "separate")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    cfg = {"benchmark": {"mode": "interleaved" if order == "interleaved" else "separate",
                         "forks": batches * per_batch, "batches": batches, "warmup": 10,
                         "scenarios": [{"name": n, "pages": p} for n, p, _ in scenarios]}}
    d = new_results(f"run-{seed}", "sim", cfg, "sim.yaml")
    d["targets"].append({"name": target, "transport": "adb", "status": "ok", "warnings": [], "device_changes": [],
                         "facts": {"machine": "aarch64", "kernel_release": "5.10", "android": True,
                                   "android_sdk": 33, "model": model, "cpus": 8, "mem_total_kb": 8_000_000},
                         "payload": None})
    run_level = rng.normal(0.0, run_sd) if run_sd else 0.0
    slots = schedule(order, batches, round_batches)
    if round_batches:
        restarts = tuple(sorted(set(restarts) | set(range(round_batches, batches, round_batches))))
    procs = process_ids(order, slots, restarts)
    for name, _, base in scenarios:
        path = drift_path(rng, drift, len(slots))
        shared = rng.normal(0.0, batch_sd, batches)
        proc_level = {p: rng.normal(0.0, process_sd) for p in dict.fromkeys(procs)}
        for s, ((b, arm), proc) in enumerate(zip(slots, procs, strict=False)):
            local = shared[b] if order != "sequential" else rng.normal(0.0, batch_sd)
            common = path[s] + local + rng.normal(0.0, arm_batch_sd) + proc_level[proc] + run_level
            named = arm == "named"
            fork_level = (
                np.log(base * scale * 1e6) + common + (np.log1p((shifts or {}).get(name, 0.0)) if named else 0.0)
            )
            rec = {"target": target, "scenario": name, "arm": arm, "batch": b, "warmup": 10,
                   "fork_ns": [int(v) for v in fork_times(rng, fork_level, per_batch, sigma, drift)]}
            if with_exit:
                exit_level = (np.log(0.3 * base * scale * 1e6) + common
                              + (np.log1p((exit_shifts or {}).get(name, 0.0)) if named else 0.0))
                rec["exit_ns"] = [int(v) for v in fork_times(rng, exit_level, per_batch, sigma, drift)]
            d["samples"].append(rec)
    d["run"]["status"] = "complete"
    return d


# what a QEMU guest with instruction counting records as its transport_info (the report reads it)
ICOUNT_INFO = {"clock": "icount", "accel": "tcg", "arch": "x86_64", "kernel": "bzImage",
               "kernel_config_source": "IKCONFIG", "boot_seconds": 30, "boot_attempts": 1,
               "console_log": "console-phone-1.log"}


def make_sweep(counts: tuple[int, ...] = (1024, 4096, 16384), *, shifts: dict[str, float] | None = None,
               seed: int = 1, **kw: Any) -> dict[str, Any]:
    """A finished VMA-count sweep (benchmark.vmas: a list): make_results at each count, its fork
    times scaled with the count (the seed's 16.36 ms at 65536 VMAs), every sample carrying its
    count, as a run of devbench's plan records them."""
    d: dict[str, Any] | None = None
    for i, v in enumerate(counts):
        part = make_results(shifts=shifts, seed=seed + i, scale=v / 65536, **kw)
        for s in part["samples"]:
            s["vmas"] = v
        if d is None:
            d = part
            d["run"]["config"]["benchmark"]["vmas"] = list(counts)
        else:
            d["samples"] += part["samples"]
    assert d is not None
    return d


def make_kernels_results(*, kernels: tuple[str, ...] = ("refcount", "strdup"), boots: int = 2,
                         shifts: dict[str, dict[str, float]] | None = None, batches: int = 10, per_batch: int = 20,
                         seed: int = 1, target: str = "kut", scenarios=SCENARIOS, drift: str = "none",
                         boot_sd: float = 0.01, process_sd: float = 0.002, batch_sd: float = 0.002,
                         arm_batch_sd: float = 0.001, sigma: float = 0.002, named_cost: float = 0.0125,
                         with_exit: bool = False, arch: str = "x86_64") -> dict[str, Any]:
    """A finished run of a QEMU target with kernels: (devbench.run.boots): each kernel booted
    `boots` times in ABBA rounds, each boot the whole plan (one interleaved process per
    scenario), each kernel's results its own target (<target>-<kernel>) with its boots.
    shifts[kernel][arm]: that kernel's arm slower by this fraction than the first kernel's;
    named_cost: the named arm's cost on every kernel (the feature). The time order runs over
    every boot; drift (as make_results) over all of it; boot_sd: each boot's own level (a boot's
    memory history), shared by its scenarios and arms."""
    from devbench.run.boots import boots_of

    rng = np.random.default_rng(seed)
    cfg = {"targets": [{"name": target, "qemu": {"arch": arch, "clock": "icount", "boots": boots,
                                                 "kernels": [{"name": k} for k in kernels]}}],
           "benchmark": {"mode": "interleaved", "forks": batches * per_batch, "batches": batches, "warmup": 1,
                         "scenarios": [{"name": n, "pages": p} for n, p, _ in scenarios]}}
    d = new_results(f"kernels-{seed}", "sim", cfg, "sim.yaml")
    order = boots_of(len(kernels), boots, batches)
    for i, k in enumerate(kernels):
        d["targets"].append({"name": f"{target}-{k}", "transport": "qemu", "status": "ok", "warnings": [],
                             "device_changes": [], "payload": None, "kernel": k, "kernels_of": target,
                             "kernel_index": i,
                             "boots": [{"boot": b.slot, "kernel_boot": b.of_kernel + 1, "status": "ok"}
                                       for kk, b in order if kk == i],
                             "facts": {"machine": arch, "abi": "aarch64" if arch == "arm64" else arch,
                                       "kernel_release": "6.12.118", "android": False, "cpus": 1,
                                       "mem_total_kb": 4_000_000},
                             "transport_info": {**ICOUNT_INFO, "arch": arch, "console_log": f"console-{k}.log"}})
    slots = len(order) * len(scenarios) * batches * 2
    path = drift_path(rng, drift, slots)
    t = 0
    for k, boot in order:
        name, boot_level = kernels[k], rng.normal(0.0, boot_sd)
        for sc, _, base in scenarios:
            proc = rng.normal(0.0, process_sd)
            for b in range(batches):
                shared = rng.normal(0.0, batch_sd)
                for arm in ("named", "unnamed") if b % 2 == 0 else ("unnamed", "named"):
                    shift = (shifts or {}).get(name, {}).get(arm, 0.0)
                    level = (np.log(base * 1e6) + path[t] + boot_level + proc + shared
                             + rng.normal(0.0, arm_batch_sd) + np.log1p(shift)
                             + (np.log1p(named_cost) if arm == "named" else 0.0))
                    t += 1
                    rec = {"target": f"{target}-{name}", "scenario": sc, "arm": arm, "batch": b + boot.batch_offset,
                           "boot": boot.slot, "warmup": 1,
                           "fork_ns": [int(v) for v in fork_times(rng, level, per_batch, sigma, drift)]}
                    if with_exit:
                        rec["exit_ns"] = [int(v) for v in fork_times(rng, level + np.log(0.3), per_batch, sigma,
                                                                     drift)]
                    d["samples"].append(rec)
    d["run"]["status"] = "complete"
    return d
