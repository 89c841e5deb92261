"""Row identity: what one row of a run's tables stands for (pure).

A row is one scenario of one target at one VMA count (benchmark.vmas may list several: a
sweep). Every sample, check, error and profile a run records carries its count (`vmas`);
a record without one (results.json of a run before sweeps) has the run's one count, from
its config (65536 when the config did not say). Comparisons of kernels and architectures
add their own fields to this key (issue 27): extend RowKey, keep its order the reading order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

DEFAULT_VMAS = 65536  # benchmark.vmas when a config does not give it


class RowKey(NamedTuple):
    """What a row is keyed by, in reading order after the target: the VMA count, the scenario."""

    target: str
    vmas: int | None
    scenario: str


def run_vmas(data: Mapping[str, Any]) -> int | None:
    """The VMA count of a run's records that carry none: the config's benchmark.vmas when it is
    one count (a results file from before sweeps), else None."""
    run = data.get("run")
    config = run.get("config") if isinstance(run, dict) else None
    bench = config.get("benchmark") if isinstance(config, dict) else None
    value = bench.get("vmas", DEFAULT_VMAS) if isinstance(bench, dict) else DEFAULT_VMAS
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def record_vmas(record: Mapping[str, Any], default: int | None) -> int | None:
    """A record's own VMA count (a positive integer), else `default` (run_vmas of its run)."""
    value = record.get("vmas")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def is_sweep(data: Mapping[str, Any]) -> bool:
    """Whether a run's config asked for several VMA counts (benchmark.vmas: a list)."""
    run = data.get("run")
    config = run.get("config") if isinstance(run, dict) else None
    bench = config.get("benchmark") if isinstance(config, dict) else None
    value = bench.get("vmas") if isinstance(bench, dict) else None
    return isinstance(value, list) and len({str(v) for v in value}) > 1


def row_key(record: Mapping[str, Any], default_vmas: int | None) -> RowKey:
    return RowKey(str(record.get("target")), record_vmas(record, default_vmas), str(record.get("scenario")))


def vmas_field(vmas: int | None) -> dict[str, int]:
    """{"vmas": N} for a record of count N; {} when the record is of every count (None)."""
    return {} if vmas is None else {"vmas": vmas}


def swept(counts: Iterable[int | None]) -> bool:
    """Whether rows of these VMA counts are a sweep (more than one count): then every label,
    table and plot names the count."""
    return len({c for c in counts if c is not None}) > 1


def with_vmas(scenario: str, vmas: int | None, sweep: bool) -> str:
    """A scenario at one VMA count as a reader names it: "1 page" (one count), "1 page @ 4096 VMAs"."""
    return f"{scenario} @ {vmas} VMAs" if sweep and vmas is not None else scenario
