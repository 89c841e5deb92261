"""Statistics over a results.json dict: pure functions (numpy/scipy), typed results, no I/O.

samples  -> fork times per target, scenario, arm and batch
describe -> per arm: n, mean, median, stdev, MAD, percentiles, outliers, drift, warm-up
effect   -> one arm against another: change % with a BCa bootstrap CI, p-values, Cliff's delta
holm     -> Holm-Bonferroni across a target's scenarios
verdict  -> slower / faster / no difference / inconclusive: need about N more forks
run      -> a whole run; compare -> two runs; gate -> --fail-on-regression

The names below load on first use: `devbench.analysis.model` (plain data, no scipy) is imported
by modules that never compute a statistic, and scipy.stats alone takes about a second to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "compare": "compare", "describe_failure": "gate", "failing_rows": "gate", "gate": "gate", "analyze": "run",
    **dict.fromkeys(("Analysis", "ArmStats", "Comparison", "Effect", "Options", "Row", "TargetResult", "Verdict"),
                    "model"),
}
__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    from devbench.analysis.compare import compare
    from devbench.analysis.gate import describe_failure, failing_rows, gate
    from devbench.analysis.model import Analysis, ArmStats, Comparison, Effect, Options, Row, TargetResult, Verdict
    from devbench.analysis.run import analyze


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
