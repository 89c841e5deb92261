"""Report at scale: analysis + HTML for 20 targets x 3 scenarios x 2 arms x 1000 forks.

A synthetic finished run shaped like the payload's output (tests/simdata.py make_results, one
per target, combined: 10 interleaved batches of 100 forks per arm, 120,000 fork times) is
written as results.json. Side by side in this run:
- `devbench report RUN --format html` as a user runs it (a new Python process: start, imports,
  load, statistics, HTML), wall time and peak RSS, against `json.load` of the same file in a new
  Python process (the least any report must do);
- in this process: the time of each step (devbench.results.store.load_analyzed: check, statistics,
  summary; then HTML), then the peak of Python allocations (tracemalloc) of load + analysis + HTML
  against json.load's, and against the raw samples (120,000 x 8 bytes).

Figures: wall time (goal < 5 s) and peak memory / raw samples, with json.load's ratio as the
baseline (goal: within 2x of json.load's, that is no sample copied more than needed).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DEVBENCH, figure  # noqa: E402


def synthetic(targets: int, batches: int, per_batch: int) -> dict[str, Any]:
    from tests.simdata import make_results

    runs = [make_results(seed=i + 1, target=f"device-{i:02d}", batches=batches, per_batch=per_batch,
                         shifts={"1 page": 0.02 * (i % 3), "10 pages": 0.05})
            for i in range(targets)]
    data = runs[0]
    for r in runs[1:]:
        data["targets"] += r["targets"]
        data["samples"] += r["samples"]
    return data


# A small Python process starts the measured one and reports its wall time and peak RSS: a child
# forked from this (large) process would inherit this process's RSS high-water mark.
MEASURE = ("import os, subprocess, sys, time\n"
           "t = time.monotonic(); p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "_, st, ru = os.wait4(p.pid, 0)\n"
           "print(time.monotonic() - t, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(st))")


def child(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    wall, rss, code = out.stdout.split()
    return float(wall), float(rss), int(code)


def traced(fn: Callable[[], Any]) -> tuple[Any, int]:
    """fn()'s result and the peak of Python allocations while it ran (bytes above the start)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return out, peak


def traced_steps(steps: dict[str, Callable[..., Any]]) -> dict[str, tuple[int, int]]:
    """Run the steps in one traced session, each given the results of the ones before it:
    {step: (bytes held when it started, peak bytes while it ran)}."""
    gc.collect()
    tracemalloc.start()
    out, results = {}, []
    try:
        for name, fn in steps.items():
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            results.append(fn(*results))
            out[name] = (held, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--per-batch", type=int, default=100)
    opts = ap.parse_args()
    from devbench.report.html import render_html
    from devbench.results.store import ResultsStore, load_analyzed

    with tempfile.TemporaryDirectory(prefix="devbench-scale-") as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        path = run / "results.json"
        data = synthetic(opts.targets, opts.batches, opts.per_batch)
        n = sum(len(s["fork_ns"]) for s in data["samples"])
        with open(path, "w") as fh:
            json.dump(data, fh, indent=1)
        del data
        raw = n * 8
        print(
            f"  {opts.targets} targets x 3 scenarios x 2 arms x {opts.batches * opts.per_batch} forks = {n} "
            "fork times: "
            f"raw {raw / 1e6:.2f} MB as int64, results.json {path.stat().st_size / 1e6:.2f} MB",
            flush=True,
        )

        # a user's `devbench report`, against json.load in a new process (twice each, alternating; the best)
        base_cmd = [sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1]))", str(path)]
        rep_cmd = [*DEVBENCH, "report", str(run), "--format", "html"]
        cli = {"json.load": [child(base_cmd), child(base_cmd)], "devbench report": [child(rep_cmd)]}
        for name, res in cli.items():
            codes = {c for *_, c in res}
            print(f"  {name} (new process): {', '.join(f'{w:.2f} s / {m:.0f} MB RSS' for w, m, _ in res)}"
                  f"{'' if codes == {0} else f'; exit {codes}'}", flush=True)
        html_size = (run / "report.html").stat().st_size if (run / "report.html").exists() else 0

        # the steps in this process (untraced, then traced for memory)
        steps: dict[str, float] = {}

        def timed(name: str, fn: Callable[[], Any]) -> Any:
            start = time.monotonic()
            out = fn()
            steps[name] = time.monotonic() - start
            return out

        def in_process() -> None:
            timed("json.load", lambda: json.load(open(path)))
            d, a = timed(
                "devbench.results.store.load_analyzed (check, statistics, summary)", lambda: load_analyzed(path)
            )
            timed("HTML", lambda: render_html(d, a))

        in_process()
        print("  in process: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()), flush=True)

        gc.collect()
        _, peak_json = traced(lambda: json.load(open(path)))

        steps_peak = traced_steps({"load + analysis": lambda: load_analyzed(path),
                                   "HTML": lambda da: render_html(*da)})
        peak_report = max(p for _, p in steps_peak.values())
        print(
            f"  peak Python allocations (tracemalloc): json.load {peak_json / 1e6:.1f} MB; load + analysis + HTML "
            f"{peak_report / 1e6:.1f} MB, the peak of each step (from what it started with): "
            + ", ".join(f"{k} {p / 1e6:.1f} MB (from {h / 1e6:.1f})" for k, (h, p) in steps_peak.items())
            + f"; report.html {html_size / 1e6:.2f} MB",
            flush=True,
        )

        # what a run of this size pays on the host while it runs: results.json is saved after every
        # batch (summary + JSON + fsync), and each save writes everything taken so far
        data = json.load(open(path))
        data["run"]["status"] = "running"
        saves = sum(1 for _ in data["samples"])
        start = time.monotonic()
        ResultsStore(run / "saved.json", data)
        one = time.monotonic() - start
        print(
            f"  results.json save at this size (while running: summary, JSON, fsync): {one:.2f} s; a run of this size "
            f"saves after each of its {saves} batches, growing: ~{one * saves / 2:.0f} s of host time in saves",
            flush=True,
        )
        del data

        wall = min(w for w, _, _ in cli["devbench report"])
        base_wall = min(w for w, _, _ in cli["json.load"])
        figure(f"report: {opts.targets} targets, HTML (new process)", wall, "s", "< 5 s", wall < 5.0,
               f"json.load alone {base_wall:.2f} s, ratio {wall / base_wall:.1f}x")
        ratio, base_ratio = peak_report / raw, peak_json / raw
        figure("report: peak memory / raw samples", ratio, "x", f"< {2 * base_ratio:.1f}x", ratio < 2 * base_ratio,
               f"json.load of the same file: {base_ratio:.1f}x; {peak_report / peak_json:.2f}x json.load's peak")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
