"""Run every benchmark (or the named ones), each in its own process, and print each figure with its
goal at the end. A benchmark that fails is reported and the others still run. Exit 0 when every
benchmark ran (a missed goal is a figure, not an error), 1 when one could not run.

    python -m benchmarks [NAME ...]      # from the repository root; the lab ones need root
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# every benchmarks/NAME.py that is not private (_common.py) is a benchmark; these first, cheapest first
ORDER = ("report_scale", "timer_overhead", "payload_setup", "harness_overhead", "farm_scaling")


def benchmarks() -> tuple[str, ...]:
    found = {p.stem for p in HERE.glob("*.py") if not p.name.startswith("_")}
    return tuple(n for n in ORDER if n in found) + tuple(sorted(found - set(ORDER)))


FIGURE = re.compile(r" goal .* (met|NOT MET)\b")


def run_one(name: str, timeout: float) -> tuple[int | str, list[str], float]:
    """(exit code or why it did not end, its figure lines, seconds); its output is streamed."""
    start = time.monotonic()
    figures: list[str] = []
    proc = subprocess.Popen([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  {line}", end="", flush=True)
            if FIGURE.search(line):
                figures.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code: int | str = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = f"timed out after {timeout:.0f} s"
        _stop(proc)
    except KeyboardInterrupt:
        _stop(proc)
        raise
    reader.join(timeout=10)
    return code, figures, time.monotonic() - start


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT first, so the benchmark's lab devices and device settings are put back; then SIGKILL."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run the benchmarks and print each figure with its goal."
    )
    known = benchmarks()
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"default: all of {', '.join(known)}")
    ap.add_argument("--timeout", type=float, default=3600, help="per benchmark, seconds")
    opts = ap.parse_args(argv)
    unknown = [n for n in opts.names if n not in known]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    outcomes = []
    for name in opts.names or known:
        print(f"== {name}", flush=True)
        try:
            outcomes.append((name, *run_one(name, opts.timeout)))
        except OSError as exc:
            outcomes.append((name, f"could not start: {exc}", [], 0.0))
    print("\n== figures", flush=True)
    failed = []
    for name, code, figures, seconds in outcomes:
        for line in figures:
            print(line)
        if code != 0:
            failed.append(name)
            print(f"{name}: did not run to the end ({code if isinstance(code, str) else f'exit {code}'}; "
                  f"{len(figures)} figure(s))")
        elif not figures:
            print(f"{name}: ran ({seconds:.0f} s) but printed no figure")
    met = sum(" met" in ln and "NOT MET" not in ln for *_, figs, _ in outcomes for ln in figs)
    total = sum(len(figs) for *_, figs, _ in outcomes)
    print(f"\n{met} of {total} figures met their goal; {len(outcomes) - len(failed)} of {len(outcomes)} benchmarks ran"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
