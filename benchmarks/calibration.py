"""Calibration of every design (tests/calibrate.py) at full size: A/A false-positive rate, CI
coverage and power at +2/+5/+12%, per design and drift model, printed as the README's table.
Goal: every A/A false-positive rate within 2-8% at alpha 0.05 and every coverage at least 94%
(the estimates themselves, 1000 A/A runs a cell: about +-1.4 points at 5%); designs without a
design never give a verdict. Pure computation on simulated runs (no device, no root); about
10 minutes on 2 shared cores.

    python -m benchmarks calibration        # or: python benchmarks/calibration.py [TRIALS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import figure  # noqa: E402
from tests import calibrate as cal  # noqa: E402


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    start = time.monotonic()
    cells = cal.sweep(trials, max(trials // 4, 10), seed0=900_001)
    print(cal.table(cells), flush=True)
    bad = cal.failures(cells, strict=True)
    for line in bad:
        print(f"outside the bounds: {line}", flush=True)
    leaks = cal.never_a_verdict(max(trials // 50, 5))
    print(f"verdicts where none may be given (sequential, few batches, compare 1:1): {leaks}", flush=True)
    worst = max(abs(c.fpr - 0.05) for c in cells)
    figure("calibration: cells outside the bounds", len(bad) + sum(leaks.values()), "cells", "0", not bad and not any(leaks.values()),
           f"{len(cells)} cells x {trials} A/A runs; largest |FPR - 5%| {worst:.1%}; {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
