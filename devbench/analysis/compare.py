"""Runs against runs (kernel A vs B, device A vs B): per target pairing, scenario and arm, B against A.
Every row says the kernel of each side (kernel, base_kernel) and the architecture; a pairing
whose kernels differ is a kernels table (TargetPair.kernels_differ).

The run is the unit. A run's batches share its boot, build, device state and placement, so they
are replicates of that run, not of the kernel: two runs of one kernel differ by more than their
batches say (simulated: with a run-to-run sd of 1%, treating batches as replicates called 45%
of A/A comparisons slower or faster). With min_runs or more runs on each side, the change is
the ratio of the mean run means, its CI a two-sample t interval on log run means (Welch's
when the sides have different run counts) and p its t test.
With fewer, the change is shown with no CI and no verdict, and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from devbench.analysis.describe import describe_arm
from devbench.analysis.effect import fork_p_values, with_interval
from devbench.analysis.model import Comparison, Effect, Options, Row, RunMeans, TargetPair
from devbench.analysis.run import Pending, finish_rows
from devbench.analysis.samples import ARMS, ArmData, ScenarioData, group, targets_in
from devbench.analysis.stats import LogInterval, log_interval
from devbench.analysis.workload import mismatches
from devbench.results.rows import with_vmas

Runs = Sequence[dict[str, Any]]
POOLED_TEST, WELCH_TEST = "t, log run means", "Welch t, log run means"  # named in devbench.analysis.method


def pair_targets(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """Same names in both runs; or, when each run has one target, those two. Notes for the rest."""
    names_a, names_b = targets_in(a), targets_in(b)
    if len(names_a) == 1 and len(names_b) == 1:
        return [(names_a[0], names_b[0])], []
    pairs = [(n, n) for n in names_a if n in names_b]
    notes = [f"target {n!r} is only in run A" for n in names_a if n not in names_b]
    notes += [f"target {n!r} is only in run B" for n in names_b if n not in names_a]
    return pairs, notes


def _run_info(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (data.get("run") or {}).get(k) for k in ("id", "name", "status", "started")}


def kernel_of(data: dict[str, Any], target: str) -> str | None:
    """The kernel a run's target ran: its release, and the devbench variant (patches) if any."""
    rec = next((t for t in data.get("targets") or [] if isinstance(t, dict) and t.get("name") == target), {})
    release = (rec.get("facts") or {}).get("kernel_release")
    variant = (rec.get("transport_info") or {}).get("kernel_variant")
    return None if not release else f"{release}{f' ({variant})' if variant else ''}"


def run_list(runs: Runs, targets: list[str]) -> tuple[dict[str, Any], ...]:
    """Every run of a side, with the kernel of each of its paired targets (shown, never refused:
    the kernel is what a comparison is for)."""
    return tuple({**_run_info(d), "kernels": {t: kernel_of(d, t) for t in targets}} for d in runs)


def each_run_means(rows: tuple, ga: list[list[ScenarioData]], gb: list[list[ScenarioData]], ta: str,
                   tb: str) -> tuple[RunMeans, ...]:
    """Per row, each run's own mean (ms; the number the run counts as), run by run."""
    def mean(g: list[ScenarioData], target: str, scenario: str, arm: str, vmas: int | None) -> float | None:
        sd = next((x for x in g if x.target == target and x.scenario == scenario
                   and (vmas is None or x.vmas == vmas)), None)
        means = sd.arms[arm].batch_means() if sd is not None else np.empty(0)
        return float(means.mean()) if means.size else None

    return tuple(RunMeans(r.scenario, r.arm, tuple(mean(g, ta, r.scenario, r.arm, r.vmas) for g in ga),
                          tuple(mean(g, tb, r.scenario, r.arm, r.vmas) for g in gb), r.vmas) for r in rows)


def pooled(arms: list[ArmData]) -> ArmData:
    """Several runs' batches as one arm (renumbered in run order), for the row's statistics."""
    batches = [b for arm in arms for _, b in arm.batches]
    return ArmData(tuple(enumerate(batches)), sum(a.untimed_warmup for a in arms))


def run_means(arms: list[ArmData]) -> np.ndarray:
    """One number per run: the mean of its batch means (its forks' mean when batches are equal)."""
    return np.array([a.batch_means().mean() for a in arms if a.forks.size])


def one_run_reason(na: int, nb: int, options: Options) -> str:
    """Why there is no verdict: a run's batches share its boot and device state, so a difference
    between runs cannot be told from run-to-run variance without several runs a side."""
    return (f"{na} run(s) of A and {nb} of B: cannot be told from run-to-run variance; "
            f"give {options.min_runs}+ runs a side (--against)")


def two_sample_log_interval(la: np.ndarray, lb: np.ndarray, confidence: float) -> LogInterval:
    """The t interval of mean lb - mean la (log run means). Equal run counts: Student's t with
    the pooled variance (exact for equal spreads and robust to unequal ones at equal sizes;
    Welch's df is conservative at 3 runs a side: 3.2% instead of 5%); unequal counts: Welch."""
    na, nb = la.size, lb.size
    diff = float(lb.mean() - la.mean())
    if na == nb:
        pooled_var = (la.var(ddof=1) + lb.var(ddof=1)) / 2.0
        se, df = float(np.sqrt(pooled_var * 2.0 / na)), float(2 * na - 2)
    else:
        va, vb = la.var(ddof=1) / na, lb.var(ddof=1) / nb
        se = float(np.sqrt(va + vb))
        df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if se > 0 else 1.0
    return log_interval(diff, se, df, confidence)


def run_effect(a: list[ArmData], b: list[ArmData], options: Options) -> Effect | None:
    """Side B's runs against side A's, the run as the unit."""
    ma, mb = run_means(a), run_means(b)
    fa, fb = pooled(a).forks, pooled(b).forks
    if fa.size < 2 or fb.size < 2 or ma.size == 0 or mb.size == 0 or ma.mean() == 0:
        return None
    change = float((mb.mean() / ma.mean() - 1.0) * 100.0)
    p_w, p_m, cd = fork_p_values(fb, fa, options)
    if min(ma.size, mb.size) < max(options.min_runs, 2) or not (np.all(ma > 0) and np.all(mb > 0)):
        return Effect(change, None, None, "none", "run", int(min(ma.size, mb.size)), "none", None, p_w, p_m, cd,
                      one_run_reason(int(ma.size), int(mb.size), options))
    t = two_sample_log_interval(np.log(ma), np.log(mb), options.confidence)
    return with_interval(Effect(change, None, None, "independent", "run", int(min(ma.size, mb.size)),
                                POOLED_TEST if ma.size == mb.size else WELCH_TEST, None, p_w, p_m, cd), t)


def _counts(groups: list[list[ScenarioData]], target: str) -> set[int | None]:
    return {sd.vmas for g in groups for sd in g if sd.target == target}


def _by_case(groups: list[list[ScenarioData]], target: str, by_vmas: bool) -> dict[tuple[int | None, str],
                                                                                  list[ScenarioData]]:
    """(VMA count, scenario) -> each run's data; the count None when the sides are not sweeps
    (one count a side: a different count is a workload mismatch, said, not a missing row)."""
    out: dict[tuple[int | None, str], list[ScenarioData]] = {}
    for g in groups:
        for sd in g:
            if sd.target == target:
                out.setdefault((sd.vmas if by_vmas else None, sd.scenario), []).append(sd)
    return out


def compare_pair(ga: list[list[ScenarioData]], gb: list[list[ScenarioData]], ta: str, tb: str,
                 options: Options, metric: str = "fork") -> tuple[tuple, list[str]]:
    """Rows (one per VMA count, scenario and arm) of target ta in side A's runs against tb in side B's."""
    ca, cb = _counts(ga, ta), _counts(gb, tb)
    by_vmas = len(ca) > 1 or len(cb) > 1
    sa, sb = _by_case(ga, ta, by_vmas), _by_case(gb, tb, by_vmas)
    label = ta if ta == tb else f"{ta} → {tb}"
    pending: list[Pending] = []
    notes = []
    for (vmas, scenario), runs_a in sa.items():
        runs_b = sb.pop((vmas, scenario), None)
        if runs_b is None:
            notes.append(f"{ta}: scenario {with_vmas(scenario, vmas, by_vmas)!r} is only in run A")
            continue
        count = vmas if by_vmas else (next(iter(ca)) if ca == cb else None)
        for arm in ARMS:
            xa, xb = [sd.arms[arm] for sd in runs_a], [sd.arms[arm] for sd in runs_b]
            pending.append(Pending(label, scenario, arm, runs_a[0].pages, describe_arm(pooled(xa), options),
                                   describe_arm(pooled(xb), options), run_effect(xa, xb, options), count))
    notes += [f"{tb}: scenario {with_vmas(name, v, by_vmas)!r} is only in run B" for v, name in sb]
    return finish_rows(pending, options, metric), notes


def compare(a: dict[str, Any] | Runs, b: dict[str, Any] | Runs, options: Options = Options()) -> Comparison:
    """Side A (one run, or a list of runs of the same setup) against side B. Targets are paired
    by the first run of each side. exit_rows: the child's exit (exit_ns), where both sides have it."""
    runs_a = [a] if isinstance(a, dict) else list(a)
    runs_b = [b] if isinstance(b, dict) else list(b)
    pairs, notes = pair_targets(runs_a[0], runs_b[0])
    fa, fb = [group(d) for d in runs_a], [group(d) for d in runs_b]
    ea, eb = [group(d, "exit") for d in runs_a], [group(d, "exit") for d in runs_b]
    with_exit = all(any(arm.forks.size for g in side for sd in g for arm in sd.arms.values()) for side in (ea, eb))
    from devbench.analysis.kernels import arch_label, kernel_label

    out = []
    for ta, tb in pairs:
        rows, more = compare_pair(fa, fb, ta, tb, options)
        exit_rows = compare_pair(ea, eb, ta, tb, options, "exit")[0] if with_exit else ()
        ka, kb = kernel_label(runs_a[0], ta), kernel_label(runs_b[0], tb)
        arch = arch_label(runs_b[0], tb) or arch_label(runs_a[0], ta)

        def labelled(found: tuple[Row, ...], ka: str | None = ka, kb: str | None = kb,
                     arch: str | None = arch) -> tuple[Row, ...]:  # every row says its kernels and arch
            return tuple(replace(r, kernel=kb, base_kernel=ka, arch=arch) for r in found)

        out.append(TargetPair(ta, tb, labelled(rows), labelled(exit_rows), each_run_means(rows, fa, fb, ta, tb),
                              ka, kb, arch))
        notes += more
    return Comparison(options, _run_info(runs_a[0]), _run_info(runs_b[0]), tuple(out), tuple(notes),
                      (len(runs_a), len(runs_b)), mismatches(runs_a, runs_b, pairs),
                      run_list(runs_a, [ta for ta, _ in pairs]), run_list(runs_b, [tb for _, tb in pairs]))
