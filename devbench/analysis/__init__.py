"""Statistics over a results.json dict: pure functions (numpy/scipy), typed results, no I/O.
scipy.stats is imported on first use (devbench.analysis.lazy).

samples  -> fork times per target, scenario, arm and batch
describe -> per arm: n, mean, median, stdev, MAD, percentiles, outliers, drift, warm-up
effect   -> one arm against another: change % with a BCa bootstrap CI, p-values, Cliff's delta
holm     -> Holm-Bonferroni across a target's scenarios
verdict  -> slower / faster / no difference / inconclusive: need about N more forks
run      -> a whole run; compare -> two runs; gate -> --fail-on-regression
"""

from devbench.analysis.compare import compare
from devbench.analysis.gate import describe_failure, failing_rows, gate
from devbench.analysis.model import Analysis, ArmStats, Comparison, Effect, Options, Row, TargetResult, Verdict
from devbench.analysis.run import analyze

__all__ = ["Analysis", "ArmStats", "Comparison", "Effect", "Options", "Row", "TargetResult", "Verdict",
           "analyze", "compare", "describe_failure", "failing_rows", "gate"]
