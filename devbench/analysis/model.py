"""Typed, immutable analysis results; each one turns into plain JSON with to_json()."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from devbench.results.rows import RowKey

SLOWER, FASTER, NO_DIFFERENCE, INCONCLUSIVE = "slower", "faster", "no difference", "inconclusive"
NOT_MEASURED = "not measured"  # an arm without a single timed fork
NO_VERDICT = "no verdict"      # label prefix (kind inconclusive): no design applies, and why


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


class _Json:
    def to_json(self) -> dict[str, Any]:
        return clean(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Options(_Json):
    """How the numbers are computed. The defaults are what `devbench report` uses."""

    alpha: float = 0.05
    margin_pct: float = 1.0          # equivalence margin of the verdict, in percent
    confidence: float = 0.95
    min_batches: int = 5             # fewer paired batches: no verdict (never single forks as the unit)
    min_runs: int = 3                # compare: fewer runs per side, no verdict
    min_boots: int = 2               # kernels compared in one run: fewer boots of a kernel, no verdict
    outlier_z: float = 3.5           # modified z-score threshold
    fork_tests: bool = True          # the descriptive fork-level Welch / Mann-Whitney / Cliff's delta


@dataclass(frozen=True)
class Outliers(_Json):
    count: int
    indices: tuple[int, ...]         # positions in the arm's fork sequence (batch order)


@dataclass(frozen=True)
class Trend(_Json):
    """Drift: a line of fork time against fork index (through batch means when there are
    min_batches or more). change_pct is the fitted change over the whole arm, in % of its mean."""

    change_pct: float | None
    p: float | None
    flagged: bool


@dataclass(frozen=True)
class WarmupCheck(_Json):
    """The first batch against the rest (first_batch_pct: how much slower the first batch is)."""

    first_batch_pct: float | None
    p: float | None
    flagged: bool
    untimed_forks: int               # warm-up forks the payload ran before each batch, never timed


@dataclass(frozen=True)
class ArmStats(_Json):
    """One arm of one scenario: times in milliseconds per fork."""

    n: int
    batches: int
    mean: float | None
    median: float | None
    stdev: float | None
    mad: float | None                # median absolute deviation (unscaled)
    min: float | None
    max: float | None
    p5: float | None
    p25: float | None
    p75: float | None
    p95: float | None
    p99: float | None
    outliers: Outliers
    drift: Trend
    warmup: WarmupCheck


@dataclass(frozen=True)
class Effect(_Json):
    """How much slower x is than y, with its CI: change_pct is the estimate the CI is built on
    (the geometric mean of the unit ratios, the CI's centre on the log scale), or the ratio of
    means - 1 where there is no CI.

    design "paired": per-batch means, each batch's two arms side by side in time; the CI is a t
    interval on the log ratios and p its t test. unit: "batch" (interleaved), "process"
    (separate mode, alternating processes) or "run" (compare: runs as replicates). "none": no
    design applies (arms one after the other, one run per side): the change only, no CI, no p;
    reason says why. p_welch, p_mwu and cliffs_delta compare single forks: DESCRIPTIVE only
    (forks are not independent), never a test behind a verdict.
    """

    change_pct: float | None
    ci_low_pct: float | None
    ci_high_pct: float | None
    design: str
    unit: str
    units: int                       # batches (pairs), processes or runs behind the CI
    test: str
    p: float | None
    p_welch: float | None            # descriptive (single forks)
    p_mwu: float | None              # descriptive (single forks)
    cliffs_delta: float | None       # descriptive (single forks)
    reason: str | None = None        # why there is no CI and no verdict
    se_log: float | None = None      # standard error of log(1 + change) behind the CI (the gate tests on it)
    df: float | None = None          # its t degrees of freedom
    exact: bool = False              # no spread at all: every unit gave the same ratio, the CI is the point


@dataclass(frozen=True)
class Verdict(_Json):
    label: str  # slower, faster, no difference, inconclusive: need about N more batches, no verdict: why
    kind: str                        # slower, faster, no difference, inconclusive, not measured
    more_forks: int | None           # per arm, when inconclusive and estimable: more_batches x forks per batch
    more_batches: int | None = None  # batches per arm to add (from the batch-level variance)
    negligible: bool = False         # slower/faster, but the whole CI lies within the margin


@dataclass(frozen=True)
class Row(_Json):
    """One target and scenario at one VMA count: named against unnamed (or run B against run A,
    kernel B against kernel A, for one arm). Its identity is `key` (devbench.results.rows.RowKey)
    with the kernel, the architecture, the arm and the metric (`identity`)."""

    target: str
    scenario: str
    arm: str | None                  # None: named vs unnamed; "named"/"unnamed" in a comparison
    pages: int | None
    base: ArmStats | None            # unnamed (or run A)
    other: ArmStats | None           # named (or run B)
    effect: Effect | None
    p_holm: float | None
    verdict: Verdict
    metric: str = "fork"             # "fork" (the parent's fork()) or "exit" (the child's exit, exit_ns)
    vmas: int | None = None          # the VMA count (benchmark.vmas; one of a sweep's); None: not known
    kernel: str | None = None        # the kernel the row is about (a kernels row: kernel B)
    arch: str | None = None          # its architecture (x86_64, arm64, ...)
    base_kernel: str | None = None   # a kernels row: kernel A, which kernel B is against

    @property
    def key(self) -> RowKey:
        return RowKey(self.target, self.vmas, self.scenario)

    @property
    def identity(self) -> tuple[object, ...]:
        """What tells the row from every other of a report: its key, kernels, arch, arm, metric."""
        return (self.target, self.base_kernel, self.kernel, self.arch, self.vmas, self.scenario, self.arm,
                self.metric)


@dataclass(frozen=True)
class TargetResult(_Json):
    name: str
    rows: tuple[Row, ...]
    exit_rows: tuple[Row, ...] = ()  # the same per exit_ns (the child's exit), where the results have it


@dataclass(frozen=True)
class RunMeans(_Json):
    """One scenario and arm: each run's own mean fork time (ms; the mean of its batch means, the
    number a run counts as in the comparison), side A's runs then side B's, in their order.
    In a kernels table: each boot's, kernel A's boots then kernel B's."""

    scenario: str
    arm: str
    a: tuple[float | None, ...]      # None: that run has no fork of this scenario and arm
    b: tuple[float | None, ...]
    vmas: int | None = None          # the row's VMA count


@dataclass(frozen=True)
class KernelPair(_Json):
    """A target's kernels compared in one run (kernels:): kernel B against kernel A, the first
    of the list, per scenario and arm; the boot is the unit (devbench.analysis.kernels)."""

    target: str                      # the configured target whose kernels these are
    arch: str | None
    kernel_a: str
    kernel_b: str
    target_a: str                    # each kernel's own target in results.json (<target>-<kernel>)
    target_b: str
    rows: tuple[Row, ...]
    exit_rows: tuple[Row, ...] = ()  # the same per exit_ns (the child's exit), where the results have it
    boot_means: tuple[RunMeans, ...] = ()  # per row: each boot's own mean, kernel A's boots then B's
    boots_a: tuple[int, ...] = ()    # the boots (their slot in the target's boot order) of each kernel
    boots_b: tuple[int, ...] = ()


@dataclass(frozen=True)
class Analysis(_Json):
    options: Options
    targets: tuple[TargetResult, ...] = field(default_factory=tuple)
    kernels: tuple[KernelPair, ...] = ()  # kernels compared in one run: kernel B against kernel A

    def rows(self) -> list[Row]:
        return [r for t in self.targets for r in t.rows]

    def exit_rows(self) -> list[Row]:
        return [r for t in self.targets for r in t.exit_rows]

    def kernel_rows(self) -> list[Row]:
        return [r for k in self.kernels for r in k.rows]

    def kernel_exit_rows(self) -> list[Row]:
        return [r for k in self.kernels for r in k.exit_rows]

    def target(self, name: str) -> TargetResult | None:
        return next((t for t in self.targets if t.name == name), None)


@dataclass(frozen=True)
class TargetPair(_Json):
    """One target of run A against one of run B: rows per scenario and arm, B against A."""

    target_a: str
    target_b: str
    rows: tuple[Row, ...]
    exit_rows: tuple[Row, ...] = ()  # the same per exit_ns (the child's exit), where both sides have it
    run_means: tuple[RunMeans, ...] = ()  # per row: each run's own mean (several runs a side are several runs)
    kernel_a: str | None = None      # the kernel each side's target ran (devbench.analysis.kernels.kernel_label)
    kernel_b: str | None = None
    arch: str | None = None

    @property
    def kernels_differ(self) -> bool:
        """A kernels table: the two sides ran different kernels."""
        return self.kernel_a is not None and self.kernel_b is not None and self.kernel_a != self.kernel_b


@dataclass(frozen=True)
class Mismatch(_Json):
    """A workload field whose value differs between the sides of a comparison (analysis.workload)."""

    field: str                       # VMAs, pages of 'NAME', scenarios, clock, arch, payload version, payload sha256
    a: str                           # side A's value(s)
    b: str                           # side B's value(s)
    target: str = ""                 # the target pairing, when there are several

    def text(self) -> str:
        return f"{self.field}{' (' + self.target + ')' if self.target else ''}: A {self.a}, B {self.b}"


@dataclass(frozen=True)
class Comparison(_Json):
    options: Options
    run_a: dict[str, Any]
    run_b: dict[str, Any]
    pairs: tuple[TargetPair, ...]
    notes: tuple[str, ...]           # what could not be compared, and why
    runs: tuple[int, int] = (1, 1)   # runs on side A and side B (the run is the unit)
    mismatches: tuple[Mismatch, ...] = ()  # what the sides' workloads differ in (compare refuses unless --force)
    runs_a: tuple[dict[str, Any], ...] = ()  # every run of side A: id, name, status, started, kernel per target
    runs_b: tuple[dict[str, Any], ...] = ()
