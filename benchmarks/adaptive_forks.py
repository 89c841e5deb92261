"""Adaptive sampling against fixed 1000 forks, on the lab kernel (the feature kernel in QEMU).

1. fixed: 1000 forks per arm in 10 batches, interleaved; its regression CI half-width W;
2. adaptive: forks: auto, precision W, rounds of 100 forks in 10 batches, cap 3000.
The figure is the ratio of forks the adaptive run needed to reach W to the fixed run's 1000.
Goal: below 1 (fewer forks for the same certainty). Needs root and the cached feature kernel.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import figure, timed_run  # noqa: E402
from devlab import AdbServer  # noqa: E402

SCENARIO = "  scenarios: [{name: 1 page, pages: 1}]\n"


def config(tmp: str, name: str, server_port: int, bench: str) -> Path:
    cfg = Path(tmp) / f"{name}.yaml"
    cfg.write_text(
        f"run: {{name: {name}, output: {tmp}/{name}}}\n"
        "targets:\n  - "
        f"{{name: kut, qemu: {{arch: x86_64, kernel: feature, memory_mb: 2048, server_port: {server_port}}}}}\n"
        f"benchmark:\n  vmas: 8192\n  warmup: 2\n{bench}{SCENARIO}"
    )
    return cfg


def results(tmp: str, name: str) -> dict:
    [run_dir] = list((Path(tmp) / name).iterdir())
    return json.loads((run_dir / "results.json").read_text())


def main() -> int:
    with AdbServer() as server, tempfile.TemporaryDirectory(prefix="devbench-adaptive-") as tmp:
        seconds, res = timed_run(config(tmp, "fixed", server.port, "  forks: 1000\n  batches: 10\n"), timeout=3600)
        fixed = results(tmp, "fixed")
        [row] = [r for r in fixed["summary"] if r["scenario"] == "1 page"]
        low, high = row["regression_ci_pct"]
        width = (high - low) / 2
        print(
            f"  fixed: 1000 forks per arm, regression {row['regression_pct']:+.2f}% ±{width:.2f}% ({seconds:.0f} s)",
            flush=True,
        )
        bench = f"  forks: auto\n  precision: {width:.4f}\n  round_forks: 100\n  max_forks: 3000\n  batches: 10\n"
        seconds, res = timed_run(config(tmp, "adaptive", server.port, bench), timeout=3600)
        adaptive = results(tmp, "adaptive")
        sc = adaptive["targets"][0]["adaptive"]["scenarios"]["1 page"]
        print(
            f"  adaptive: {sc['forks']} forks per arm, ±{sc['half_width_pct']:.2f}% ({seconds:.0f} s): {sc['stopped']}",
            flush=True,
        )
        ratio = sc["forks"] / 1000
        figure(
            "adaptive: forks for fixed-1000 CI width",
            ratio,
            "x",
            "< 1",
            ratio < 1 and sc["stopped"].startswith("precision"),
            f"{sc['forks']} vs 1000 forks per arm for ±{width:.2f}%",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
