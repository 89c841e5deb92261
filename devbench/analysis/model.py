"""Typed, immutable analysis results; each one turns into plain JSON with to_json()."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

SLOWER, FASTER, NO_DIFFERENCE, INCONCLUSIVE = "slower", "faster", "no difference", "inconclusive"
NOT_MEASURED = "not measured"  # an arm without a single timed fork


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
    resamples: int = 9999            # bootstrap resamples
    seed: int = 20211001             # bootstrap seed: the same results give the same report
    min_batches: int = 5             # fewer batches per arm: the fork is the unit, not the batch
    outlier_z: float = 3.5           # modified z-score threshold


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
    """How much slower x is than y: change_pct = (mean x / mean y - 1) * 100, with its CI.

    design "paired": per-batch means ratio, batches resampled together (interleaved runs);
    "independent": two-sample bootstrap. unit: what is resampled ("batch" means or "fork").
    p is the test that matches the design (paired t on log batch ratios, Welch t on log batch
    means, or Welch t on forks); p_welch and p_mwu always compare the forks.
    """

    change_pct: float | None
    ci_low_pct: float | None
    ci_high_pct: float | None
    design: str
    unit: str
    units: int                       # batches (pairs) or forks behind the CI
    test: str
    p: float | None
    p_welch: float | None
    p_mwu: float | None
    cliffs_delta: float | None


@dataclass(frozen=True)
class Verdict(_Json):
    label: str                       # slower, faster, no difference, inconclusive: need about N more forks
    kind: str                        # slower, faster, no difference, inconclusive, not measured
    more_forks: int | None           # per arm, when inconclusive and estimable


@dataclass(frozen=True)
class Row(_Json):
    """One target and scenario: named against unnamed (or run B against run A for one arm)."""

    target: str
    scenario: str
    arm: str | None                  # None: named vs unnamed; "named"/"unnamed" in a comparison
    pages: int | None
    base: ArmStats | None            # unnamed (or run A)
    other: ArmStats | None           # named (or run B)
    effect: Effect | None
    p_holm: float | None
    verdict: Verdict


@dataclass(frozen=True)
class TargetResult(_Json):
    name: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Analysis(_Json):
    options: Options
    targets: tuple[TargetResult, ...] = field(default_factory=tuple)

    def rows(self) -> list[Row]:
        return [r for t in self.targets for r in t.rows]

    def target(self, name: str) -> TargetResult | None:
        return next((t for t in self.targets if t.name == name), None)


@dataclass(frozen=True)
class TargetPair(_Json):
    """One target of run A against one of run B: rows per scenario and arm, B against A."""

    target_a: str
    target_b: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Comparison(_Json):
    options: Options
    run_a: dict[str, Any]
    run_b: dict[str, Any]
    pairs: tuple[TargetPair, ...]
    notes: tuple[str, ...]           # what could not be compared, and why
