"""The plan: which payload invocations run on each target, in which order (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Collection

from devbench.config import BenchmarkConfig, Scenario

ARMS = ("unnamed", "named")
MAP_COUNT_MARGIN = 1024  # the payload's own mappings and the C runtime's, with room to spare


@dataclass(frozen=True)
class Invocation:
    scenario: Scenario
    arm: str  # "both" (interleaved in one process) or one of ARMS (one arm per process)
    args: tuple[str, ...]  # payload arguments, without the binary

    @property
    def arms(self) -> tuple[str, ...]:
        return ARMS if self.arm == "both" else (self.arm,)


def payload_args(bench: BenchmarkConfig, scenario: Scenario, arm: str, first_batch: int = 0) -> tuple[str, ...]:
    args = [
        "--vmas", str(bench.vmas),
        "--pages", str(scenario.pages),
        "--name-length", str(bench.name_length),
        "--forks", str(bench.forks),
        "--warmup", str(bench.warmup),
        "--batches", str(bench.batches),
        "--arm", arm,
        "--seed", str(bench.seed),
    ]
    if bench.shared_name:
        args.append("--shared-name")
    if bench.placebo:
        args.append("--placebo")
    if first_batch:
        args += ["--first-batch", str(first_batch)]  # a resumed run: the batches not measured yet
    return tuple(args)


def plan(bench: BenchmarkConfig, refused: Collection[tuple[str, str | None]] = ()) -> list[Invocation]:
    """Interleaved: one process per scenario runs both arms in alternating batches.
    Separate (as the seed did): one process per scenario and arm, unnamed first.
    `refused` holds (scenario, arm) pairs that must not run (arm None: the whole scenario)."""
    out = []
    for sc in bench.scenarios:
        if (sc.name, None) in refused:
            continue
        arms = tuple(a for a in ARMS if (sc.name, a) not in refused)
        if bench.mode == "interleaved" and arms == ARMS:
            arms = ("both",)
        out.extend(Invocation(sc, arm, payload_args(bench, sc, arm)) for arm in arms)
    return out


def resumed(invocations: list[Invocation], bench: BenchmarkConfig, done: Callable[[str, str], dict[int, int]]) -> list[Invocation]:
    """The invocations of a resumed run: each from its first batch that some arm still lacks
    (a batch counts as done when it has all its forks); fully measured ones are left out.
    done(scenario, arm) -> {batch: forks recorded}."""
    sizes = batch_sizes(bench.forks, bench.batches)
    out = []
    for inv in invocations:
        missing = [b for arm in inv.arms for b, n in enumerate(sizes) if done(inv.scenario.name, arm).get(b, 0) < n]
        if missing:
            first = min(missing)
            out.append(replace(inv, args=payload_args(bench, inv.scenario, inv.arm, first)))
    return out


def expected_forks(bench: BenchmarkConfig, args: tuple[str, ...]) -> int:
    """Timed forks per arm that one payload invocation with these args takes."""
    first = int(args[args.index("--first-batch") + 1]) if "--first-batch" in args else 0
    return sum(batch_sizes(bench.forks, bench.batches)[first:])


def batch_sizes(forks: int, batches: int) -> list[int]:
    """How the payload splits forks over batches: the first forks % batches get one more."""
    base, extra = divmod(forks, batches)
    return [base + (1 if i < extra else 0) for i in range(batches)]


def required_map_count(bench: BenchmarkConfig) -> int:
    return bench.vmas + MAP_COUNT_MARGIN


# An Android emulator's timings are not device timings: it gets a smoke run unless the
# config asks for the full size (benchmark.on_emulator: full).
EMULATOR_SMOKE = {"forks": 50, "batches": 5, "warmup": 2}


def for_emulator(bench: BenchmarkConfig) -> BenchmarkConfig:
    if bench.on_emulator == "full":
        return bench
    return replace(bench, **{k: min(getattr(bench, k), v) for k, v in EMULATOR_SMOKE.items()})
