"""Harness overhead: a full `devbench run` on a lab device against a plain shell script with adb.

The plain script is what a user would otherwise do: `adb connect`, `adb push` the payload, `adb
shell` it with its output redirected to a file on the device, `adb pull` that file, `adb
disconnect` (devbench too connects and disconnects a network adb device). It runs the same payload
binary (devbench's cached build) with the same arguments as devbench's run (read back from the
payload's `start` event), on the same lab device (real adbd in a network namespace), through the
same private adb server. Both are timed from the host, side by side and alternating, in this run.

Figures:
- wall-time ratio devbench / plain script for a config whose payload runs ~30 s (goal < 1.10);
- fixed start-up cost: devbench minus the plain script for a tiny payload invocation (goal < 3 s).

`--profile` (or a missed goal) runs devbench once more under cProfile and prints where its time
goes. Needs root (the lab).
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DEVBENCH, figure, fork_ms, lab_adb_device, median, outcome, results_of, timed_run  # noqa: E402

# ~30 s of payload on this 2-core machine (a fork of 32K VMAs with one page each is ~50 ms
# here, ~120 ms with the child's exit and the wait): tune with --vmas / --forks elsewhere.
LONG = "benchmark: {{vmas: {vmas}, forks: {forks}, warmup: 2, batches: 8, scenarios: [{{name: 1 page, pages: 1}}]}}\n"
TINY = "benchmark: {vmas: 16, forks: 2, warmup: 0, batches: 1, scenarios: [{name: tiny, pages: 0}]}\n"

PLAIN = """#!/bin/sh
# what a user would write: connect, push the payload, run it, pull its output, disconnect
set -e
"$ADB" connect "$SERIAL" >/dev/null
"$ADB" -s "$SERIAL" wait-for-device
"$ADB" -s "$SERIAL" push "$PAYLOAD" /data/local/tmp/forkbench-plain >/dev/null
"$ADB" -s "$SERIAL" shell "chmod 755 /data/local/tmp/forkbench-plain && /data/local/tmp/forkbench-plain $ARGS > /data/local/tmp/plain.jsonl"
"$ADB" -s "$SERIAL" pull /data/local/tmp/plain.jsonl "$OUT" >/dev/null
"$ADB" disconnect "$SERIAL" >/dev/null
"""  # noqa: E501 (data, kept as it is)


def payload_args(data: dict) -> list[str]:
    """The payload's arguments of devbench's (single) invocation, from its `start` event."""
    starts = [c for c in data["checks"] if c["check"] == "start"]
    if len(starts) != 1:
        raise RuntimeError(f"expected one payload process, found {len(starts)} start events; errors: {data['errors']}")
    s = starts[0]
    args = ["--vmas", s["vmas"], "--pages", s["pages"], "--name-length", s["name_length"], "--forks", s["forks"],
            "--warmup", s["warmup"], "--batches", s["batches"], "--arm", s["arm"], "--seed", s["seed"]]
    return [str(a) for a in args] + (["--shared-name"] if s["shared_name"] else [])


def payload_path(data: dict) -> Path:
    from devbench.config import BuildConfig
    from devbench.payload.build import build

    t = data["targets"][0]
    p = build(t["payload"]["abi"], BuildConfig())
    if p.sha256 != t["payload"]["sha256"]:
        raise RuntimeError("the payload devbench pushed is not the cached zig build")
    return p.path


def plain_run(script: Path, env: dict, out: Path) -> tuple[float, float]:
    """(wall seconds of the script, the payload's own elapsed seconds from its `end` event)."""
    start = time.monotonic()
    res = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - start
    if res.returncode != 0:
        raise RuntimeError(f"plain script failed ({res.returncode}): {res.stderr.strip()[-300:]}")
    ends = [json.loads(ln) for ln in out.read_text().splitlines() if '"event":"end"' in ln]
    if not ends or ends[0]["exit_code"] != 0:
        raise RuntimeError(f"plain script: the payload did not end cleanly: {ends}")
    return seconds, ends[0]["elapsed_ns"] / 1e9


def profile(cfg: Path, out: Path, top: int) -> None:
    """Run devbench under cProfile; print the time in imports and devbench's own functions."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "devbench", "run", str(cfg), "--quiet"],
                   capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - start
    st = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in st.values())
    imports = max((v[3] for (f, _, fn), v in st.items() if fn == "_find_and_load"), default=0.0)
    own = sorted(((v[3], v[0], f"{f.rsplit('/devbench/', 1)[1]}:{ln}({fn})") for (f, ln, fn), v in st.items()
                  if "/devbench/" in f and "/.venv/" not in f and fn != "<module>"), reverse=True)
    print(
        f"  cProfile of `devbench run {cfg.name}`: {wall:.1f} s wall under the profiler, {total:.2f} s profiled, "
        f"imports {imports:.2f} s (first import of each module, cumulative); devbench's functions by cumulative time:",
        flush=True,
    )
    for cum, calls, name in own[:top]:
        print(f"    {cum:7.3f} s {calls:6d}x  {name}")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmas", type=int, default=32768)
    ap.add_argument("--forks", type=int, default=240, help="timed forks of the long config (~30 s here)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each side for the long config")
    ap.add_argument("--tiny-reps", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="also profile devbench with cProfile")
    opts = ap.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="devbench-harness-")))
        server, dev, line = stack.enter_context(lab_adb_device("bench-h"))
        head = f"run: {{name: harness, output: {tmp}/out}}\ntargets:\n  - {line}\ndevice: {{max_map_count: auto}}\n"
        cfgs = {"tiny": tmp / "tiny.yaml", "long": tmp / "long.yaml"}
        cfgs["tiny"].write_text(head + TINY)
        cfgs["long"].write_text(head + LONG.format(vmas=opts.vmas, forks=opts.forks))
        from devbench.guest.adbserver import adb_binary

        script = tmp / "plain.sh"
        script.write_text(PLAIN)
        times: dict[str, dict[str, list[tuple[float, float]]]] = {}  # (wall s, sum of fork times s)
        payload_s: dict[str, float] = {}
        print(f"  load average before: {_load()}", flush=True)
        for size, reps in (("tiny", opts.tiny_reps), ("long", opts.reps)):
            # an untimed devbench run first: it pushes the payload and gives the exact invocation
            _, res = timed_run(cfgs[size])
            data = results_of(res)
            args = payload_args(data)
            out = tmp / f"plain-{size}.jsonl"
            env = {**server.env, "ADB": adb_binary(), "SERIAL": dev.adb_serial, "PAYLOAD": str(payload_path(data)),
                   "ARGS": " ".join(args), "OUT": str(out)}
            print(f"  {size}: payload {' '.join(args)} (devbench {outcome(res)})", flush=True)
            t: dict[str, list[tuple[float, float]]] = {"devbench": [], "plain": []}
            for i in range(reps):
                order = ("plain", "devbench") if i % 2 == 0 else ("devbench", "plain")
                for side in order:
                    if side == "plain":
                        seconds, payload_s[size] = plain_run(script, env, out)
                        events = [json.loads(ln) for ln in out.read_text().splitlines()]
                        t["plain"].append(
                            (seconds, sum(sum(e["fork_ns"]) for e in events if e["event"] == "batch") / 1e9)
                        )
                    else:
                        seconds, res = timed_run(cfgs[size])
                        t["devbench"].append((seconds, sum(fork_ms(results_of(res))) / 1e3))
            times[size] = t
            print(f"  {size}: wall (forks) devbench {', '.join(f'{w:.2f} ({f:.2f})' for w, f in t['devbench'])} s; "
                  f"plain script {', '.join(f'{w:.2f} ({f:.2f})' for w, f in t['plain'])} s", flush=True)
        print(f"  load average after: {_load()}", flush=True)
        dl, pl = (median([w for w, _ in times["long"][k]]) for k in ("devbench", "plain"))
        dt, pt = (median([w for w, _ in times["tiny"][k]]) for k in ("devbench", "plain"))
        # the time outside the timed forks (set-up, children's exit and wait, and the harness)
        rest = {k: median([w - f for w, f in times["long"][k]]) for k in ("devbench", "plain")}
        ratio, fixed = dl / pl, dt - pt
        ok_ratio, ok_fixed = ratio < 1.10, fixed < 3.0
        start_import = _import_seconds()
        figure("harness: devbench / plain adb script", ratio, "x", "< 1.10", ok_ratio,
               f"~{payload_s.get('long', float('nan')):.0f} s payload: devbench {dl:.2f} s, plain {pl:.2f} s, "
               f"+{dl - pl:.2f} s, of which outside the timed forks +{rest['devbench'] - rest['plain']:.2f} s; "
               f"medians of {opts.reps}")
        figure("harness: fixed start-up cost", fixed, "s", "< 3 s", ok_fixed,
               f"tiny payload: devbench {dt:.2f} s, plain {pt:.2f} s; medians of {opts.tiny_reps}; "
               f"python + devbench's imports alone {start_import:.2f} s")
        if opts.profile or not (ok_ratio and ok_fixed):
            for size in ("tiny", "long"):
                profile(cfgs[size], tmp / f"{size}.prof", 30)
    return 0


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _import_seconds() -> float:
    """Python's start and the imports of a `devbench run` (the CLI, the runner, the report)."""
    start = time.monotonic()
    subprocess.run(
        [*DEVBENCH[:1], "-c", "import devbench.cli, devbench.run.runner, devbench.report.html, devbench.analysis"],
        check=True,
        timeout=120,
    )
    return time.monotonic() - start


if __name__ == "__main__":
    raise SystemExit(main())
