"""Cold start: the README's quick start on a machine with none of the packages and no caches.

A clean Debian root (the fresh-machine test's base layer: mmdebstrap --variant=apt of this
machine's suite from its apt sources; Essential packages and apt, not even python3), in a mount
and PID namespace of its own (tests/fresh/_enter.py), with a copy of the project at
/root/devbench. In it, `scripts/dev quickstart` runs twice in a row: the first time from nothing
(every .deb and wheel downloaded, unless --download-caches; the kernel built, the guest image
made), the second time warm. Every output line is timestamped, so the figures say where the
time goes.

Figures: the cold quick start's wall time (goal <= 480 s: issue 19), the warm one's (goal <=
300 s: issue 14), and the phases of the cold one. Needs root. The machine's other load counts:
run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import figure  # noqa: E402
from devbench.guest.adbserver import free_port  # noqa: E402
from tests.fresh import freshroot  # noqa: E402

# each line gets the seconds since the start in front (date is in coreutils, Essential)
SCRIPT = r"""
set -u
t0=$(date +%s.%N)
stamp() { while IFS= read -r line; do printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $t0" | awk '{print $1 - $3}')" "$line"; done; }
for n in 1 2; do
  echo "== quickstart $n" | stamp
  bash scripts/dev quickstart --quiet --output /tmp/qs 2>&1 | stamp
  echo "== exit ${PIPESTATUS[0]}" | stamp
done
"""  # noqa: E501 (data, kept as it is)

PHASES = (("apt (kernel's packages)", r"dev: installing Debian packages: python3 linux-source"),
          ("kernel build started", r"feature kernel: in the background"),
          ("apt (the rest)", r"dev: installing Debian packages: python3-venv"),
          ("kernel ready, guest booted", r"devbench: warning: .*instruction counting"),
          ("venv", r"dev: creating "),
          ("run started", r"devbench: run "),
          ("results", r"devbench: results "))


def parse(log: str) -> list[tuple[float, str]]:
    out = []
    for line in log.splitlines():
        m = re.match(r"\s*(\d+\.\d)\s(.*)$", line)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--download-caches", action="store_true",
                    help="bind the host's apt archives and the fresh roots' pip cache (no real downloads)")
    ap.add_argument("--keep-log", type=Path, help="copy the timestamped log here")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the root (and everything in its PID namespace) is ended
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = freshroot.ensure_base()
    runs = freshroot.cache_root("fresh") / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="cold-", dir=runs))
    try:
        project = freshroot.copy_project(scratch / "devbench")
        log = scratch / "cold.log"
        # a private adb server port: the root shares this machine's network namespace
        env = {"ANDROID_ADB_SERVER_PORT": str(free_port())}
        t0 = time.monotonic()
        rc = freshroot.run_in_root([base], scratch / "root", project, ["bash", "-c", SCRIPT], log, 3600,
                                   env=env, in_memory=True, download_caches=args.download_caches)
        wall = time.monotonic() - t0
        text = log.read_text(errors="replace")
        if args.keep_log:
            shutil.copyfile(log, args.keep_log)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = parse(text)
    starts = [t for t, ln in lines if ln.startswith("== quickstart")]
    ends = [(t, ln) for t, ln in lines if ln.startswith("== exit")]
    if rc != 0 or len(ends) != 2 or any(ln != "== exit 0" for _, ln in ends):
        print(f"cold start: the root's command ended with {rc}; log's end:\n" + "\n".join(text.splitlines()[-40:]))
        return 1
    cold, warm = ends[0][0] - starts[0], ends[1][0] - starts[1]
    first = [(t, ln) for t, ln in lines if t <= ends[0][0]]
    for name, pat in PHASES:
        hit = next((t for t, ln in first if re.search(pat, ln)), None)
        print(f"  {name:28} at {hit:7.1f} s" if hit is not None else f"  {name:28} (not seen)")
    print(f"  (whole root, both runs: {wall:.0f} s; downloads {'cached' if args.download_caches else 'real'})")
    for _t, ln in first:
        if ln.startswith(("scenario", "unpopulated", "1 page", "10 pages")):
            print("  " + ln)
    figure("cold quick start (from nothing)", cold, "s", "<= 480 s", cold <= 480)
    figure("warm quick start (second run)", warm, "s", "<= 300 s", warm <= 300)
    return 0


if __name__ == "__main__":
    sys.exit(main())
