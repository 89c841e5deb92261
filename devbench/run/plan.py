"""The plan: which payload invocations run on each target, in which order (pure)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from devbench.config import BenchmarkConfig, Scenario
from devbench.results.rows import with_vmas

ARMS = ("unnamed", "named")
MAP_COUNT_MARGIN = 1024  # the payload's own mappings and the C runtime's, with room to spare


@dataclass(frozen=True)
class Invocation:
    scenario: Scenario
    arm: str  # "both" (interleaved in one process) or one of ARMS (one arm per process)
    args: tuple[str, ...]  # payload arguments, without the binary
    batch: int | None = None  # separate mode: the one batch this process measures
    vmas: int = 65536  # the VMA count this process maps (benchmark.vmas: one of its counts)
    sweep: bool = False  # the plan runs several VMA counts: the count is part of every label

    @property
    def arms(self) -> tuple[str, ...]:
        return ARMS if self.arm == "both" else (self.arm,)

    @property
    def label(self) -> str:
        """The invocation's scenario as progress lines and rounds name it (with its VMA count in a sweep)."""
        return with_vmas(self.scenario.name, self.vmas, self.sweep)


Refused = Collection[tuple[int | None, str, str | None]]  # (VMA count or None: every count, scenario, arm or None)


def is_refused(refused: Refused, vmas: int, scenario: str, arm: str | None) -> bool:
    """Whether the plan must leave out this arm (None: the whole scenario) at this count."""
    return any((v is None or v == vmas) and sc == scenario and (a is None or a == arm) for v, sc, a in refused)


def first_arm(bench: BenchmarkConfig, scenario: Scenario) -> str:
    """The arm the scenario's ABBA order starts with, alternating over the config's scenarios:
    named in the first, unnamed in the second, and so on (at every VMA count of a sweep). A
    start-up transient (the first batch after setup) then falls on the named arm in half the
    scenarios and on the unnamed in the other half, instead of always biasing the change one
    way. From the config alone, so a resumed run, `devbench check` and a LAVA job plan the same
    order; recorded in results.json as run.first_arm (results without it started every scenario
    with named)."""
    names = [sc.name for sc in bench.scenarios]
    index = names.index(scenario.name) if scenario.name in names else 0
    return ARMS[1] if index % 2 == 0 else ARMS[0]


def first_arms(bench: BenchmarkConfig) -> dict[str, str]:
    """first_arm of every scenario, as results.json records it (run.first_arm)."""
    return {sc.name: first_arm(bench, sc) for sc in bench.scenarios}


def payload_args(bench: BenchmarkConfig, scenario: Scenario, arm: str, first_batch: int = 0,
                 vmas: int | None = None) -> tuple[str, ...]:
    """The payload's arguments for one scenario and arm at `vmas` (default: the config's first count)."""
    args = [
        "--vmas", str(bench.vma_counts[0] if vmas is None else vmas),
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
    if arm == "both" and first_arm(bench, scenario) == "unnamed":
        args.append("--unnamed-first")  # payload 4: even batches unnamed first
    if first_batch:
        args += ["--first-batch", str(first_batch)]  # a resumed run: the batches not measured yet
    return tuple(args)


def arm_order(batches: int, first: int = 0, start: str = "named") -> list[tuple[int, str]]:
    """(batch, arm) in time order, ABBA: batch b runs `start` first when b is even, the other
    arm first when odd (the payload's own order for its interleaved batches, by absolute batch
    number, so a resumed run keeps it). For an even count each arm's mean time position is the
    same (a linear drift cancels); for an odd count they differ by one slot in 2 x batches, the
    least any order of whole batches can do, and each arm leads in (batches +- 1) / 2 batches."""
    other = ARMS[0] if start == ARMS[1] else ARMS[1]
    return [(b, arm) for b in range(first, batches) for arm in ((start, other) if b % 2 == 0 else (other, start))]


def single_batch_args(bench: BenchmarkConfig, scenario: Scenario, arm: str, batch: int,
                      vmas: int | None = None) -> tuple[str, ...]:
    """Payload arguments that measure batch `batch` alone, with its own size and number: the
    payload splits --forks over --batches and starts at --first-batch, so --batches batch+1,
    --first-batch batch and --forks (batch+1) x its size give exactly that batch."""
    size = batch_sizes(bench.forks, bench.batches)[batch]
    args = list(payload_args(bench, scenario, arm, vmas=vmas))
    args[args.index("--forks") + 1] = str(size * (batch + 1))
    args[args.index("--batches") + 1] = str(batch + 1)
    return tuple(args) + (("--first-batch", str(batch)) if batch else ())


def plan(bench: BenchmarkConfig, refused: Refused = ()) -> list[Invocation]:
    """Every scenario at every VMA count (counts ascending, the scenarios in config order at each).
    Interleaved: one process per scenario runs both arms in alternating batches.
    Separate: one process per arm and batch, in ABBA order (arm_order), so each batch's two arms
    run next to each other in time and the analysis pairs them, the process as the unit (the
    seed ran all unnamed batches, then all named ones: drift read as a difference).
    `refused` holds (VMA count, scenario, arm) that must not run (count None: at every count;
    arm None: the whole scenario)."""
    out = []
    sweep = bench.sweep
    for vmas in bench.vma_counts:
        for sc in bench.scenarios:
            if is_refused(refused, vmas, sc.name, None):
                continue
            arms = tuple(a for a in ARMS if not is_refused(refused, vmas, sc.name, a))
            if bench.mode == "interleaved" and arms == ARMS:
                out.append(Invocation(sc, "both", payload_args(bench, sc, "both", vmas=vmas), vmas=vmas, sweep=sweep))
            elif bench.mode == "interleaved":
                out.extend(Invocation(sc, arm, payload_args(bench, sc, arm, vmas=vmas), vmas=vmas, sweep=sweep)
                           for arm in arms)
            else:
                out.extend(Invocation(sc, arm, single_batch_args(bench, sc, arm, b, vmas), b, vmas, sweep)
                           for b, arm in arm_order(bench.batches, start=first_arm(bench, sc)) if arm in arms)
    return out


def resumed(
    invocations: list[Invocation], bench: BenchmarkConfig, done: Callable[[int, str, str], dict[int, int]]
) -> list[Invocation]:
    """The invocations of a resumed run: each from its first batch that some arm still lacks
    (a batch counts as done when it has all its forks); fully measured ones are left out.
    A separate-mode process (one batch) runs again whole or not at all.
    done(vmas, scenario, arm) -> {batch: forks recorded}."""
    sizes = batch_sizes(bench.forks, bench.batches)
    out = []
    for inv in invocations:
        if inv.batch is not None:
            if done(inv.vmas, inv.scenario.name, inv.arm).get(inv.batch, 0) < sizes[inv.batch]:
                out.append(inv)
            continue
        missing = [b for arm in inv.arms for b, n in enumerate(sizes)
                   if done(inv.vmas, inv.scenario.name, arm).get(b, 0) < n]
        if missing:
            first = min(missing)
            out.append(replace(inv, args=payload_args(bench, inv.scenario, inv.arm, first, inv.vmas)))
    return out


def expected_forks(bench: BenchmarkConfig, args: tuple[str, ...]) -> int:
    """Timed forks per arm that one payload invocation with these args takes (from its own
    --forks, --batches and --first-batch: a separate-mode process measures one batch)."""
    opt = dict(zip(args, args[1:], strict=False))
    forks, batches = int(opt.get("--forks", bench.forks)), int(opt.get("--batches", bench.batches))
    return sum(batch_sizes(forks, batches)[int(opt.get("--first-batch", 0)):])


def invocation_batches(bench: BenchmarkConfig, args: tuple[str, ...]) -> int:
    """Batches per arm that one payload invocation with these args runs (each with its warm-up)."""
    opt = dict(zip(args, args[1:], strict=False))
    return int(opt.get("--batches", bench.batches)) - int(opt.get("--first-batch", 0))


def batch_sizes(forks: int, batches: int) -> list[int]:
    """How the payload splits forks over batches: the first forks % batches get one more."""
    base, extra = divmod(forks, batches)
    return [base + (1 if i < extra else 0) for i in range(batches)]


def required_map_count(bench: BenchmarkConfig, vmas: int | None = None) -> int:
    """vm.max_map_count a payload of `vmas` VMAs needs (default: the config's largest count)."""
    return (max(bench.vma_counts) if vmas is None else vmas) + MAP_COUNT_MARGIN


# An Android emulator's timings are not device timings: it gets a smoke run unless the
# config asks for the full size (benchmark.on_emulator: full). 10 batches: with fewer than 5
# paired batches the analysis gives no verdict.
EMULATOR_SMOKE = {"forks": 100, "batches": 10, "warmup": 2}


def for_emulator(bench: BenchmarkConfig) -> BenchmarkConfig:
    if bench.on_emulator == "full":
        return bench
    return replace(bench, **{k: min(getattr(bench, k), v) for k, v in EMULATOR_SMOKE.items()})
