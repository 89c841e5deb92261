"""Statistics over a results.json dict: pure functions (numpy/scipy), typed results, no I/O.
scipy.stats is imported on first use (devbench.analysis.lazy).

samples  -> fork (or exit) times per target, scenario, arm and batch; whether the arms alternated
describe -> per arm: n, mean, median, stdev, MAD, percentiles, outliers, drift, warm-up
effect   -> named against unnamed paired by batch: change % with a t CI on log batch ratios,
            its p; descriptive fork-level p-values and Cliff's delta; no CI and a reason
            where no design applies (fewer than 5 paired batches, arms one after the other)
holm     -> Holm-Bonferroni across a target's scenarios
verdict  -> slower / faster / no difference / inconclusive: need about N more batches / no verdict: why
run      -> a whole run (fork and exit rows); compare -> runs against runs, the run as the unit;
            gate -> --fail-on-regression (--gate-exit: the exit rows too)
"""

from devbench.analysis.compare import compare
from devbench.analysis.gate import describe_failure, failing_rows, gate
from devbench.analysis.model import Analysis, ArmStats, Comparison, Effect, Options, Row, TargetResult, Verdict
from devbench.analysis.run import analyze

__all__ = ["Analysis", "ArmStats", "Comparison", "Effect", "Options", "Row", "TargetResult", "Verdict",
           "analyze", "compare", "describe_failure", "failing_rows", "gate"]
