"""The seed's numbers: the two tables of the anonymous VMA naming v8 cover letter (2021), the
one place devbench keeps them (devbench.report.letter shows them beside a run's rows).

Source: "[PATCH v8 0/3] Anonymous VMA naming patches", Suren Baghdasaryan, 27 Aug 2021
(../shared/seed/). Measured on an ARM64 Android device with the CPU locked at 2.4 GHz, the
performance governor and Android stopped; a process with 64K named anonymous VMAs forks 1000
times per scenario, the average fork() time (wall time on the phone). The letter prints the
refcount table's first REGRESSION as "12.16%%": the number is 12.16 (18.35 / 16.36 - 1).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "[PATCH v8 0/3] Anonymous VMA naming patches (Suren Baghdasaryan, 27 Aug 2021)"
DEVICE = ("an ARM64 Android phone, CPU locked at 2.4 GHz, performance governor, Android stopped; "
          "64K named VMAs, the mean of 1000 forks per scenario (wall time)")
VMAS = 65536
NOISE_CLAIM = ("Android rarely has processes with the number of VMAs reaching 4000; the regression of forking a "
               "process with that number of VMAs is at the noise level")


@dataclass(frozen=True)
class SeedRow:
    scenario: str          # the letter's own words
    pages: int             # what devbench's scenarios are matched by (0, 1, 10 pages per VMA)
    unnamed_ms: float
    named_ms: float
    regression_pct: float  # as the letter prints it


@dataclass(frozen=True)
class SeedTable:
    kernel: str            # the kernel name devbench's rows are matched by (kernels: [{name: ...}])
    title: str
    attributed_to: str     # the letter's perf finding, in its words
    rows: tuple[SeedRow, ...]


STRDUP = SeedTable(
    "strdup",
    "With the first two patches (the name strdup'ed into every child VMA on fork)",
    "strlen() and strdup() calls",
    (SeedRow("Unpopulated VMAs", 0, 16.73, 23.34, 39.51),
     SeedRow("VMAs with 1 page of data", 1, 51.98, 59.94, 15.31),
     SeedRow("VMAs with 10 pages of data", 10, 66.86, 76.31, 14.13)),
)
REFCOUNT = SeedTable(
    "refcount",
    "After the third patch (names refcounted, shared on fork)",
    "refcount_inc_checked() (called from kref_get())",
    (SeedRow("Unpopulated VMAs", 0, 16.36, 18.35, 12.16),
     SeedRow("VMAs with 1 page of data", 1, 48.16, 51.30, 6.52),
     SeedRow("VMAs with 10 pages of data", 10, 64.23, 67.69, 5.39)),
)
TABLES = (STRDUP, REFCOUNT)  # in the letter's order
KERNELS = tuple(t.kernel for t in TABLES)
