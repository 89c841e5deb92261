"""The profiled runs of one target: after its timed runs, one payload process per scenario
and arm under the profiler; symbolised on the device, pulled into the run folder, reduced to
folded stacks of the fork and exit paths, recorded in results.json.

Nothing here stops the timings: a device without a profiler, or a kernel that refuses to
profile, gives a warning and the run goes on.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from devbench.config import BenchmarkConfig, ProfileConfig
from devbench.device.probe import Facts
from devbench.errors import TargetError
from devbench.payload.build import verified
from devbench.profile.folded import (
    FORK_EXIT_FUNCTIONS,
    FoldedError,
    filter_stacks,
    parse_perf_script,
    parse_simpleperf_report_sample,
    write_folded,
)
from devbench.profile.record import Profiler, ProfilerUnavailable, find_profiler, record, remote_name, symbolise
from devbench.results.outfiles import atomic_write
from devbench.results.store import ResultsStore
from devbench.run.plan import Invocation, payload_args
from devbench.targets.base import Target


def safe_name(name: str) -> str:
    """One plain file or folder name for a target or scenario name, never "." or "..", nor
    hidden, and one-to-one: two names never share a folder ("a b" is a_20b, "a_b" is a__b).
    Letters, digits, "-" and "." (not leading) stay; "_" becomes "__" and every other byte
    _XX (hex). A long result is cut after a whole character's code and ends in "~" and a hash of
    the name: "~" is never in a short result (it would be _7e), so no short name can spell a
    long one's folder (before, "abc" + 61 spaces and a crafted 118-character name shared one)."""
    parts = [c if re.fullmatch(r"[A-Za-z0-9-]", c) or (c == "." and i) else "__" if c == "_" else
             "".join(f"_{b:02x}" for b in c.encode("utf-8", "surrogatepass")) for i, c in enumerate(name)]
    out = "".join(parts)
    if len(out) > 120:
        head = ""
        for part in parts:
            if len(head) + len(part) > 100:
                break
            head += part
        out = head + "~" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return out or "_"


def profile_target(
    target: Target,
    facts: Facts,
    cfg: ProfileConfig,
    bench: BenchmarkConfig,
    invocations: list[Invocation],
    remote: str,
    prefix: tuple[str, ...],
    store: ResultsStore,
    step: Callable[[str], None],
    *,
    root: bool = True,
) -> None:
    name = target.name
    try:
        prof = find_profiler(target, facts, cfg, root)
    except (ProfilerUnavailable, TargetError) as exc:
        store.warn(name, str(exc) if isinstance(exc, ProfilerUnavailable) else f"profiling: {exc}: timings only")
        return
    store.update_target(name, profiler=prof.to_json())
    pbench = replace(bench, forks=cfg.forks, batches=cfg.batches, warmup=min(bench.warmup, 1))
    workdir = target.workdir
    local_dir = store.path.parent / "profiles" / safe_name(name)
    cases = [(v, sc.name) for v in bench.vma_counts for sc in bench.scenarios]  # a sweep: each count profiled
    seen: list[tuple[int, str]] = []
    for inv in invocations:
        case = (inv.vmas, inv.scenario.name)
        if case in seen and inv.arm == "both":
            continue
        seen.append(case)
        index = cases.index(case)
        for arm in inv.arms:
            step(f"profiling {inv.label} ({arm}) with {prof.tool}")
            try:
                rec = _one(target, prof, pbench, inv, arm, index, workdir, remote, prefix, local_dir, store.path.parent)
            except (TargetError, FoldedError) as exc:
                store.warn(name, f"profiling {inv.label} ({arm}) failed, timings unaffected: {exc}")
                if isinstance(exc, TargetError) and exc.step.endswith("record"):
                    return  # the kernel or the profiler refuses: no use trying the other runs
                continue
            store.add_profile({"target": name, **rec})


_EXIT = ("do_exit", "exit_mmap")


def payload_stacks(stacks: Counter[str], comm: str) -> tuple[Counter[str], int]:
    """The payload's stacks: its command name as root. A system-wide recording shows the
    payload's children, once they exit, under ":PID" (perf has no name for them by then);
    their exit stacks are counted in, under the payload's name. Returns the stacks and how
    many samples came in that way."""
    out: Counter[str] = Counter()
    nameless = 0
    for stack, n in stacks.items():
        root, _, rest = stack.partition(";")
        if root == comm:
            out[stack] += n
        elif root.startswith(":") and root[1:].isdigit() and any(f in rest.split(";") for f in _EXIT):
            out[f"{comm};{rest}"] += n
            nameless += n
    return out, nameless


def _one(target: Target, prof: Profiler, pbench: BenchmarkConfig, inv: Invocation, arm: str, index: int, workdir: str,
         remote: str, prefix: tuple[str, ...], local_dir: Path, run_dir: Path) -> dict[str, object]:
    data = remote_name(workdir, index, arm, "data")
    text = remote_name(workdir, index, arm, "txt")
    # the payload's checksum is checked where it runs
    command = [*prefix, *verified(remote), *payload_args(pbench, inv.scenario, arm, vmas=inv.vmas)]
    timeout = max(120.0, pbench.timeout_s)
    try:
        record(target, prof, command, data, timeout)
        symbolise(target, prof, data, text, timeout)
        local_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{index}-{safe_name(inv.scenario.name)}{f'-{inv.vmas}vmas' if inv.sweep else ''}-{arm}"
        raw, script = local_dir / f"{stem}.{prof.tool}.data", local_dir / f"{stem}.{prof.tool}.txt"
        target.pull(data, raw)
        target.pull(text, script)
    finally:
        target.run(["rm", "-f", data, text], timeout=30)
    content = script.read_text(encoding="utf-8", errors="replace")
    parsed = parse_perf_script(content) if prof.tool == "perf" else parse_simpleperf_report_sample(content)
    # the payload's processes (parent and children) by their command name, as the kernel
    # truncates it; a system-wide recording holds every other process too
    comm = posixpath.basename(remote)[:15]
    payload, nameless = payload_stacks(parsed.stacks, comm)
    fork_path = filter_stacks(payload, FORK_EXIT_FUNCTIONS)
    folded_all, folded_fork = local_dir / f"{stem}.folded", local_dir / f"{stem}.fork.folded"
    atomic_write(folded_all, write_folded(parsed.stacks))
    atomic_write(folded_fork, write_folded(fork_path))
    return {
        "vmas": inv.vmas,
        "scenario": inv.scenario.name,
        "arm": arm,
        "tool": prof.tool,
        "event": prof.event,
        "call_graph": prof.call_graph,
        "frequency": prof.frequency,
        "forks": pbench.forks,
        "system_wide": prof.system_wide,
        "stats": parsed.stats.to_json(),
        "payload_samples": sum(payload.values()),
        "nameless_exit_samples": nameless,
        "fork_path_samples": sum(fork_path.values()),
        "fork_path_functions": sorted(FORK_EXIT_FUNCTIONS),
        "folded": dict(fork_path),  # the fork and exit paths only; everything is in the files
        "files": {k: str(p.relative_to(run_dir)) for k, p in
                  (("data", raw), ("script", script), ("folded", folded_all), ("fork_folded", folded_fork))},
    }
