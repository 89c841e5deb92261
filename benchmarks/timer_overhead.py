"""Timer overhead: the cost of the payload's timing itself relative to one fork.

Both numbers come from the same lab device (real adbd in a network namespace, this machine's
kernel and CPU), side by side in this run:
- a fork's median time at 64K VMAs, unpopulated (the seed's cheapest scenario, so the largest
  ratio), from a real `devbench run`: devbench raises vm.max_map_count for it and restores it;
- the payload's timer: benchmarks/clockpair.c, built like the payload (devbench.payload.build's zig
  command line for the device's ABI: static musl, -O2), pushed with adb and run on the device.
  It times back-to-back pairs of the payload's own now_ns() (clock_gettime(CLOCK_MONOTONIC)):
  what a pair adds to every fork sample.

Figure: median pair / median fork, in parts per million (goal < 0.1%, 1000 ppm). Needs root (the lab).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import adb, figure, fork_ms, lab_adb_device, median, results_of, timed_run  # noqa: E402

BENCH = ("benchmark: {{vmas: {vmas}, forks: {forks}, warmup: 2, batches: 2, "
         "scenarios: [{{name: unpopulated, pages: 0}}]}}\n")


def build_clockpair(abi: str, out: Path) -> Path:
    from devbench.config import BuildConfig
    from devbench.payload.build import compile_command

    src = Path(__file__).with_name("clockpair.c")
    subprocess.run(compile_command(BuildConfig(), abi, out, src), check=True, capture_output=True, timeout=900)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmas", type=int, default=65536)
    ap.add_argument("--forks", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=2_000_000)
    opts = ap.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="devbench-timer-") as tmp_,
        lab_adb_device("bench-t") as (server, dev, line),
    ):
        tmp = Path(tmp_)
        cfg = tmp / "fork.yaml"
        cfg.write_text(f"run: {{name: timer, output: {tmp}/out}}\ntargets:\n  - {line}\n"
                       "device: {max_map_count: auto}\n" + BENCH.format(vmas=opts.vmas, forks=opts.forks))
        seconds, res = timed_run(cfg)
        data = results_of(res)
        forks = fork_ms(data)
        if not forks:
            print(f"  no fork samples (exit {res.returncode}): {[e['message'] for e in data['errors']]}", flush=True)
            return 1
        t = data["targets"][0]
        changes = [
            f"{c['setting']} {c['before']} -> {c['after']} (restored: {c['restored']})" for c in t["device_changes"]
        ]
        print(f"  devbench run: {len(forks)} forks of {opts.vmas} VMAs in {seconds:.1f} s; "
              f"{'; '.join(changes) or 'no device change'}", flush=True)
        abi = t["facts"]["abi"]
        binary = build_clockpair(abi, tmp / f"clockpair-{abi}")
        serial = dev.adb_serial
        server.connect(serial)  # devbench disconnected it when its run ended
        adb(server, serial, "push", str(binary), "/data/local/tmp/clockpair").check_returncode()
        clocksource = adb(
            server, serial, "shell", "cat /sys/devices/system/clocksource/clocksource0/current_clocksource"
        ).stdout.strip()
        run = adb(
            server, serial, "shell", f"chmod 755 /data/local/tmp/clockpair && /data/local/tmp/clockpair {opts.pairs}"
        )
        run.check_returncode()
        clock = json.loads(run.stdout)
        fork_med_ns = median(forks) * 1e6
        ratio = clock["median_ns"] / fork_med_ns * 1e6  # ppm: 0.1% is 1000 ppm
        per_fork = 2 * clock["per_call_ns"] / fork_med_ns * 1e6
        print(
            f"  clock ({abi}, clocksource {clocksource or '?'}): pair median {clock['median_ns']} ns, mean "
            f"{clock['mean_ns']:.1f} ns, "
            f"p99 {clock['p99_ns']} ns, max {clock['max_ns']} ns; one call {clock['per_call_ns']:.1f} ns",
            flush=True,
        )
        figure(
            "timer: clock pair / fork at 64K VMAs",
            ratio,
            "ppm",
            "< 1000 (0.1%)",
            ratio < 1000,
            f"pair {clock['median_ns']} ns, median fork {fork_med_ns / 1e6:.2f} ms; both calls' whole cost "
            f"{per_fork:.2f} ppm",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
