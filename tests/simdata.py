"""Simulated results.json dicts with the real payload's shape, for the analysis and report tests.

Fork times are lognormal around a base time, with a per-batch factor shared by both arms
(interleaved batches run side by side) and a smaller per-arm-batch factor (each arm's batch
is its own stretch of time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devbench.results import new_results

SCENARIOS = (("unpopulated", 0, 16.36), ("1 page", 1, 22.0), ("10 pages", 10, 60.0))


def arm_batches(rng: np.random.Generator, base_ms: float, batches: int, per_batch: int, shift: float = 0.0,
                sigma: float = 0.08, batch_sd: float = 0.02, arm_batch_sd: float = 0.005,
                shared: np.ndarray | None = None) -> list[list[int]]:
    shared = shared if shared is not None else rng.normal(0.0, batch_sd, batches)
    out = []
    for b in range(batches):
        level = np.log(base_ms * 1e6) + np.log1p(shift) + shared[b] + rng.normal(0.0, arm_batch_sd)
        out.append([int(v) for v in rng.lognormal(level, sigma, per_batch)])
    return out


def make_results(*, shifts: dict[str, float] | None = None, batches: int = 10, per_batch: int = 100,
                 mode: str = "interleaved", seed: int = 1, target: str = "phone", model: str = "Pixel 6",
                 scenarios=SCENARIOS, scale: float = 1.0) -> dict[str, Any]:
    """A finished run: one target, the given scenarios, named shifted by shifts[scenario]."""
    rng = np.random.default_rng(seed)
    cfg = {"benchmark": {"mode": mode, "forks": batches * per_batch, "batches": batches, "warmup": 10,
                         "scenarios": [{"name": n, "pages": p} for n, p, _ in scenarios]}}
    d = new_results(f"run-{seed}", "sim", cfg, "sim.yaml")
    d["targets"].append({"name": target, "transport": "adb", "status": "ok", "warnings": [], "device_changes": [],
                         "facts": {"machine": "aarch64", "kernel_release": "5.10", "android": True,
                                   "android_sdk": 33, "model": model, "cpus": 8, "mem_total_kb": 8_000_000},
                         "payload": None})
    for name, _, base in scenarios:
        shared = rng.normal(0.0, 0.02, batches)
        arms = {arm: arm_batches(rng, base * scale, batches, per_batch, (shifts or {}).get(name, 0.0) if arm == "named" else 0.0,
                                 shared=shared if mode == "interleaved" else None)
                for arm in ("unnamed", "named")}
        for b in range(batches):
            for arm in (("named", "unnamed") if b % 2 else ("unnamed", "named")):
                d["samples"].append({"target": target, "scenario": name, "arm": arm, "batch": b, "warmup": 10,
                                     "fork_ns": arms[arm][b]})
    d["run"]["status"] = "complete"
    return d
