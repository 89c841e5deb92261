"""Kernel variants: how long a one-file patch takes to build on top of the kept base tree (issue 27).

The base build's kept tree (``linux-...-<key>-tree`` in the user's kernel cache) is built first
if it is missing (a full build, timed and recorded in its marker: the same cache's base build
time is the reference). Then the shipped ``anon-name-strdup.patch`` (one file, kernel/fork.c) is
built as a variant ``--runs`` times into a scratch entry beside the cache's own (the user's
cached variant is neither used nor touched), each from the kept tree: copy (hardlinked sources,
a real object dir), patch, make.

Figures: the variant rebuild time (goal <= 90 s on 2 cores, issue 27), the same as a ratio of
the base build recorded in the same cache (goal <= 0.15), and the kept tree's disk (what the
variants cost a cache, goal <= 3 GiB). The machine's other load counts: run it idle.

    python benchmarks/kernel_variant.py [--arch x86_64] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import figure  # noqa: E402
from devbench.cache import marker_path  # noqa: E402
from devbench.kernel import variant as kv  # noqa: E402
from devbench.kernel.build import find_source  # noqa: E402

PATCH = "anon-name-strdup.patch"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    src = find_source()
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.monotonic()
    tree = kv.ensure_tree(args.arch, source=src, progress=say, jobs=args.jobs)
    if time.monotonic() - t0 > 60:
        say(f"(the kept tree was built now, in {time.monotonic() - t0:.0f} s)")
    info = json.loads(marker_path(tree).read_text())
    base_s = float(info["build_seconds"])
    disk = kv.disk_bytes(tree)

    variant = kv.make_variant([PATCH], "strdup")
    times, compiled = [], []
    for i in range(args.runs):
        scratch = kv.variant_path(args.arch, variant, source=src)
        scratch = scratch.with_name(f"{scratch.name}-bench{os.getpid()}")
        try:
            start = time.monotonic()
            kv._build_variant(scratch, tree, args.arch, variant, src, say, args.jobs, 600)
            times.append(time.monotonic() - start)
            v = json.loads(marker_path(scratch).read_text())["variant"]
            compiled.append(len(v["compiled"]))
            say(f"run {i + 1}: {times[-1]:.1f} s (copy {v['copy_seconds']} s, make {v['make_seconds']} s; "
                f"compiled {', '.join(v['compiled'])})")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            for extra in (".complete", ".lock", ".log"):
                scratch.with_name(scratch.name + extra).unlink(missing_ok=True)
    t = statistics.median(times)
    figure(f"kernel variant rebuild ({args.arch}, {PATCH})", t, "s", "<= 90 s", t <= 90,
           f"median of {len(times)}: {', '.join(f'{x:.1f}' for x in times)} s; {max(compiled)} files compiled; "
           f"{args.jobs} jobs")
    figure(f"kernel variant / base build ({args.arch})", t / base_s, "x", "<= 0.15", t / base_s <= 0.15,
           f"base build {base_s:.0f} s with {info.get('jobs')} jobs, recorded in {tree.name}")
    figure(f"kept base tree disk ({args.arch})", disk / 2**30, "GiB", "<= 3 GiB", disk <= 3 * 2**30,
           f"{tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
