"""The real-clock QEMU guest's extra noise, one suspect at a time (issue 14, item 3).

Each variant runs the same workload (one scenario, both arms interleaved in one payload
process, as `devbench run` does) on devbench's x86_64 feature kernel with `clock: real`
(multi-threaded TCG, host time). One suspect changes per variant, against the baseline at
`--cpus` vCPUs:

  base-1cpu   today's devbench guest, 1 vCPU (q35, adbd and sshd, payload in an adb shell)
  base-2cpu   the same with 2 vCPUs
  machine-pc  -M pc instead of q35                      (qemu: {machine: pc})
  no-sshd     the guest init starts adbd only           (qemu: {daemons: [adbd]})
  detached    the payload detached from the adb session (qemu: {detach: true})
  minimal     no Debian guest at all: a busybox initramfs runs the same payload binary as
              init's child, output on the serial console (devbench.qemu.minimal)
  pinned-2cpu (only when asked: --variants) 2 vCPUs, the payload pinned (device: {pin: [1]})

The variants run interleaved across runs (v1 v2 ... v1 v2 ...), so slow drift of this
shared machine does not read as a variant's effect. Per variant it prints one row: the
batch-to-batch coefficient of variation of the unnamed arm's batch means (mean over runs,
then each run), the named arm's, the unnamed fork median, and named vs unnamed with its 95%
CI (devbench's own analysis, paired by batch). Every run's results.json is kept under
--output, with a summary.json of the figures and the host's load average at each run's start
(an idle machine is needed: the figures are noise).

    .venv/bin/python benchmarks/realclock_noise.py                       # the full measurement
    .venv/bin/python benchmarks/realclock_noise.py --vmas 4096 --forks 20 --runs 1   # a check

Needs root only if the guest image or kernel are not built yet (devbench builds them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devbench.config import Config, parse_text  # noqa: E402

TARGET = "guest"


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    qemu: str = ""  # extra qemu: options (YAML flow mapping items)
    cpus: int | None = None  # None: --cpus
    minimal: bool = False
    device: str = ""  # extra device: options


VARIANTS = (
    Variant("base-1cpu", "today's guest, 1 vCPU", cpus=1),
    Variant("base-2cpu", "today's guest, 2 vCPUs", cpus=2),
    Variant("machine-pc", "-M pc (not q35)", "machine: pc"),
    Variant("no-sshd", "guest init starts adbd only", "daemons: [adbd]"),
    Variant("detached", "payload detached from the adb session", "detach: true"),
    Variant("minimal", "busybox initramfs, payload as init's child", minimal=True),
    # not in the default list (measured before, see docs/measurement-fidelity.md): the payload pinned on a 2-vCPU guest
    Variant("pinned-2cpu", "2 vCPUs, payload pinned to CPU 1", cpus=2, device="pin: [1]"),
)
DEFAULT = ("base-1cpu", "base-2cpu", "machine-pc", "no-sshd", "detached", "minimal")


def config_text(v: Variant, a: argparse.Namespace, output: Path) -> str:
    cpus = v.cpus or a.cpus
    extra = f", {v.qemu}" if v.qemu else ""
    return f"""\
run: {{name: noise-{v.name}, output: {json.dumps(str(output))}}}
targets:
  - {{name: {TARGET}, qemu: {{arch: x86_64, kernel: feature, memory_mb: {a.memory_mb}, cpus: {cpus}, clock: real{extra}}}}}
device: {{max_map_count: auto{", " + v.device if v.device else ""}}}
benchmark:
  vmas: {a.vmas}
  forks: {a.forks}
  warmup: {a.warmup}
  batches: {a.batches}
  scenarios: [{{name: s, pages: {a.pages}}}]
"""  # noqa: E501 (data, kept as it is)


# -- one run of a variant -----------------------------------------------------------------------

def run_devbench(cfg: Config) -> Path:
    """`devbench run` through the library: returns the run folder."""
    from devbench.run.runner import NoProgress, execute, start_run

    run_dir, store = start_run(cfg)
    execute(cfg, store, NoProgress())
    return run_dir


def run_minimal_guest(cfg: Config, prepared: dict[str, Any]) -> Path:
    """The same plan on the minimal guest, recorded as devbench records a run (results.json)."""
    from devbench.qemu.machine import QemuSpec
    from devbench.qemu.minimal import init_script, initramfs, run_minimal
    from devbench.run.invoke import EventSink
    from devbench.run.plan import plan, required_map_count
    from devbench.run.runner import NoProgress, start_run

    opts = cfg.targets[0].options
    run_dir, store = start_run(cfg)
    payload = prepared["payload"]
    store.update_target(TARGET, transport="qemu-minimal", status="running",
                        transport_info={"kernel": str(prepared["kernel"]), "cpus": opts.cpus, "clock": opts.clock,
                                        "guest": "busybox initramfs, no daemons"},
                        payload={"abi": payload.abi, "compiler": payload.compiler, "sha256": payload.sha256})
    from devbench.targets.qemu import clock_note

    store.warn(TARGET, clock_note(opts).replace("QEMU guest", "minimal QEMU guest (busybox initramfs, no daemons)"))
    status = "failed"
    try:
        ok = True
        for i, inv in enumerate(plan(cfg.benchmark)):
            initrd = run_dir / f"initrd-{i}.img"
            initrd.write_bytes(initramfs(prepared["busybox"], prepared["payload_bytes"],
                                         init_script(inv.args, required_map_count(cfg.benchmark))))
            spec = QemuSpec("x86_64", prepared["kernel"], initrd, memory_mb=opts.memory_mb, cpus=opts.cpus,
                            accel="tcg", clock="real", initrd=initrd)
            out = run_minimal(spec, initrd, run_dir, f"{TARGET}-{i}", cfg.benchmark.timeout_s)
            sink = EventSink(store, TARGET, inv, NoProgress())
            for line in out.lines:
                sink(line)
            if out.exit_code != 0 or sink.errors:
                ok = False
                store.add_error(TARGET, inv.scenario.name, None, "run-failed",
                                f"payload exit {out.exit_code}; console: {' | '.join(out.tail[-3:])}")
        status = "complete" if ok else "failed"
        store.update_target(TARGET, status="ok" if ok else "failed")
    finally:
        store.finish(status)
    return run_dir


def prepare_minimal(cfg: Config) -> dict[str, Any]:
    from devbench.kernel.build import ensure_kernel
    from devbench.payload.build import build
    from devbench.qemu.minimal import busybox_static

    payload = build("x86_64", cfg.build)
    return {"payload": payload, "payload_bytes": payload.path.read_bytes(),
            "kernel": Path(ensure_kernel("x86_64").image), "busybox": busybox_static().read_bytes()}


# -- figures ------------------------------------------------------------------------------------

def batch_cv_pct(data: dict[str, Any], arm: str) -> float | None:
    """Coefficient of variation (population sd / mean) of one arm's batch means, in %."""
    means = [statistics.fmean(s["fork_ns"]) for s in data["samples"] if s["arm"] == arm and s["fork_ns"]]
    if len(means) < 2:
        return None
    return statistics.pstdev(means) / statistics.fmean(means) * 100


def run_figures(run_dir: Path) -> dict[str, Any]:
    from devbench.results.schema import read_results

    data = read_results(run_dir / "results.json")  # devbench's own reader: a bad shape is an error here
    forks = [ns / 1e6 for s in data["samples"] if s["arm"] == "unnamed" for ns in s["fork_ns"]]
    row = next(iter(data.get("summary") or []), {})
    return {"run_dir": str(run_dir), "status": data["run"]["status"],
            "errors": [f"{e['kind']}: {e['message'][:160]}" for e in data["errors"]],
            "cv_unnamed_pct": batch_cv_pct(data, "unnamed"), "cv_named_pct": batch_cv_pct(data, "named"),
            "median_unnamed_ms": statistics.median(forks) if forks else None, "forks_unnamed": len(forks),
            "regression_pct": row.get("regression_pct"), "regression_ci_pct": row.get("regression_ci_pct"),
            "verdict": row.get("verdict")}


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _mean(xs: list[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return statistics.fmean(got) if got else None


def table(variants: list[Variant], runs: dict[str, list[dict[str, Any]]]) -> str:
    head = (f"{'variant':11} {'unnamed batch CV %: mean (runs)':32} {'named CV %':10} {'median ms':9}  "
            "named vs unnamed [95% CI] per run")
    lines = [head, "-" * len(head)]
    for v in variants:
        rs = runs.get(v.name, [])
        cu = [r["cv_unnamed_pct"] for r in rs]
        each = "/".join(_f(x) for x in cu)
        regs = []
        for r in rs:
            ci = r.get("regression_ci_pct")
            reg = _f(r.get("regression_pct"), "{:+.1f}%")
            regs.append(reg + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci and None not in ci else ""))
        lines.append(f"{v.name:11} {_f(_mean(cu)):>5} ({each}){'':{max(0, 24 - len(each))}} "
                     f"{_f(_mean([r['cv_named_pct'] for r in rs])):>10} "
                     f"{_f(_mean([r['median_unnamed_ms'] for r in rs]), '{:.2f}'):>9}  {'; '.join(regs)}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs of every variant (default 3)")
    p.add_argument("--vmas", type=int, default=65536)
    p.add_argument("--forks", type=int, default=100, help="timed forks per arm (default 100)")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--pages", type=int, default=0, help="pages per VMA (default 0: unpopulated)")
    p.add_argument("--cpus", type=int, default=1, help="vCPUs of the single-suspect variants (default 1)")
    p.add_argument("--memory-mb", type=int, default=4096)
    p.add_argument("--variants", default=",".join(DEFAULT),
                   help=f"comma-separated, in this order within a round (default: {','.join(DEFAULT)}; "
                        f"also: {', '.join(v.name for v in VARIANTS if v.name not in DEFAULT)})")
    p.add_argument("--output", type=Path, default=Path("results/realclock-noise"))
    a = p.parse_args(argv)
    by_name = {v.name: v for v in VARIANTS}
    names = [n.strip() for n in a.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown or not names or a.runs < 1:
        p.error(f"unknown variant {unknown[0]!r} (known: {', '.join(by_name)})" if unknown else "nothing to run")
    variants = [by_name[n] for n in names]
    out = a.output.expanduser().resolve() / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    cfgs = {}
    for v in variants:
        (out / f"{v.name}.yaml").write_text(config_text(v, a, out / v.name))
        cfgs[v.name] = parse_text((out / f"{v.name}.yaml").read_text(), str(out / f"{v.name}.yaml"))
    prepared = prepare_minimal(cfgs["minimal"]) if "minimal" in cfgs else {}
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    summary = out / "summary.json"
    t_all = time.monotonic()
    print(f"realclock_noise: {len(variants)} variants x {a.runs} runs, {a.vmas} VMAs, {a.forks} forks per arm "
          f"in {a.batches} batches, single-suspect variants at {a.cpus} vCPU(s); output {out}", flush=True)
    for r in range(a.runs):
        for v in variants:
            load = os.getloadavg()[0]
            t0 = time.monotonic()
            fn: Callable[[], Path] = ((lambda v=v: run_minimal_guest(cfgs[v.name], prepared)) if v.minimal
                                      else (lambda v=v: run_devbench(cfgs[v.name])))
            try:
                fig = run_figures(fn())
            except Exception as exc:  # noqa: BLE001 - one failed run is reported; the others go on
                fig = {"status": "error", "errors": [f"{type(exc).__name__}: {exc}"], "cv_unnamed_pct": None,
                       "cv_named_pct": None, "median_unnamed_ms": None}
            fig.update(run=r + 1, load_1min=round(load, 2), seconds=round(time.monotonic() - t0, 1))
            runs[v.name].append(fig)
            print(f"  run {r + 1}/{a.runs} {v.name:11} {fig['seconds']:6.1f} s  load {load:.2f}  unnamed batch CV "
                  f"{_f(fig['cv_unnamed_pct'])}%  median {_f(fig['median_unnamed_ms'], '{:.2f}')} ms  {fig['status']}"
                  + (f"  ! {fig['errors'][0]}" if fig["errors"] else ""), flush=True)
            summary.write_text(json.dumps({"args": {k: str(x) for k, x in vars(a).items()},
                                           "variants": [v.__dict__ for v in variants], "runs": runs}, indent=1))
        if r == 0 and a.runs > 1:
            per = time.monotonic() - t_all
            print(f"  (one round took {per:.0f} s: about {per * (a.runs - 1) / 60:.0f} min to go)", flush=True)
    print()
    print(table(variants, runs))
    print(f"\ntotal {time.monotonic() - t_all:.0f} s; figures in {summary}")
    return 0 if all(f["status"] == "complete" for rs in runs.values() for f in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
