"""The Lava-Test Test Definition 1.0 that runs devbench's plan on a LAVA device (pure).

install: steps   make a fresh private work folder (mktemp -d WORKDIR.XXXXXX, recorded in the
                 test's own folder as devbench.workdir), fetch the payload (wget, else curl)
                 into it, check its sha256 there
run: steps       write the device scripts (sh/*, devbench's probe) into the test's folder, then
                 start (probe, raise vm.max_map_count), one step per payload invocation of
                 devbench's plan, finish (restore)

Every value from the config or the options that reaches a shell step is quoted with
shlex.quote; the scripts are fixed files written through quoted here-documents.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devbench import __version__
from devbench.config import Config
from devbench.device.probe import PROBE_SCRIPT
from devbench.errors import ConfigError
from devbench.lava.markers import SCHEMA, TESTDEF_NAME, case_prefix
from devbench.lava.options import LavaOptions
from devbench.results.rows import with_vmas
from devbench.run.plan import Invocation, plan, required_map_count

SCRIPTS_DIR = Path(__file__).resolve().parent / "sh"
MAIN_SCRIPT = "devbench-lava.sh"
MEAN_SCRIPT = "devbench-mean.awk"
PROBE_FILE = "devbench-probe.sh"
HEREDOC_END = "DEVBENCH_EOF"
WORKDIR_FILE = "devbench.workdir"  # in the test's folder: the private work folder's path (the script reads it)
CONFIG_SECTIONS = ("run", "device", "benchmark", "build")  # what results.json keeps of the config


@dataclass(frozen=True)
class Step:
    """One planned payload invocation as the test definition runs it."""

    index: int
    invocation: Invocation
    case: str  # the LAVA test case prefix: case.unnamed, case.named


def device_scripts() -> dict[str, str]:
    """The files the run steps write on the device, by name."""
    return {
        MAIN_SCRIPT: (SCRIPTS_DIR / MAIN_SCRIPT).read_text(encoding="utf-8"),
        MEAN_SCRIPT: (SCRIPTS_DIR / MEAN_SCRIPT).read_text(encoding="utf-8"),
        PROBE_FILE: "#!/bin/sh\n# devbench's device probe (devbench/device/probe.py): $1 sysfs, $2 procfs\n"
                    + PROBE_SCRIPT.lstrip("\n"),
    }


def steps_of(cfg: Config) -> list[Step]:
    """devbench's plan for the config, with the LAVA test case name of each scenario (at each
    VMA count, in a sweep)."""
    seen: dict[str, str] = {}
    bench = cfg.benchmark
    for v in bench.vma_counts:
        for sc in bench.scenarios:
            case = case_prefix(sc.name, v, bench.sweep)
            label = with_vmas(sc.name, v, bench.sweep)
            if case in seen:
                raise ConfigError(cfg.file, None, None, "benchmark.scenarios",
                                  f"scenarios {seen[case]!r} and {label!r} give the same LAVA test case name {case!r}")
            seen[case] = label
    return [Step(i, inv, case_prefix(inv.scenario.name, inv.vmas, inv.sweep)) for i, inv in enumerate(plan(bench))]


def map_count(cfg: Config) -> int:
    """What vm.max_map_count is raised to when lower (0: leave it alone)."""
    if cfg.device.root == "never":
        return 0
    mmc = cfg.device.max_map_count
    return required_map_count(cfg.benchmark) if mmc == "auto" else int(mmc or 0)


def run_record(cfg: Config, opts: LavaOptions, steps: list[Step], warnings: list[str]) -> dict[str, Any]:
    """The DEVBENCH-RUN record: everything devbench lava-results needs besides the log."""
    return {
        "schema": SCHEMA,
        "devbench_version": __version__,
        "target": opts.target,
        "device_type": opts.device_type,
        "run_name": cfg.run.name,
        "config_file": Path(cfg.file).name,
        "config": {k: cfg.raw[k] for k in CONFIG_SECTIONS if k in cfg.raw},
        "payload": {
            "url": opts.payload.url,
            "path": opts.payload.device_path(opts.workdir + ".XXXXXX"),
            "sha256": opts.payload.sha256,
        },
        "invocations": [
            {
                "index": s.index,
                "vmas": s.invocation.vmas,
                "scenario": s.invocation.scenario.name,
                "pages": s.invocation.scenario.pages,
                "arm": s.invocation.arm,
                "case": s.case,
                "args": list(s.invocation.args),
            }
            for s in steps
        ],
        "warnings": warnings,
    }


def cpufreq_spec(cfg: Config) -> str:
    """device.cpufreq for the device script: GOVERNOR/KHZ/CPUS (CPUS: the policies' CPUs, - for all),
    or - when the clocks are left alone (not set, or device.root: never)."""
    cf = cfg.device.cpufreq
    if cf is None or cfg.device.root == "never":
        return "-"
    cpus = cf.cpus or cfg.device.pin
    return f"{cf.governor}/{cf.khz}/{','.join(str(c) for c in cpus) if cpus else '-'}"


def generation_warnings(cfg: Config, opts: LavaOptions) -> list[str]:
    """What the config leaves undone on a LAVA device (the device script adds what it finds there:
    no cpufreq, not Android, a setting that did not take)."""
    out = []
    if cfg.device.cpufreq is None:
        out.append("clocks not locked: device.cpufreq is not set")
    elif cfg.device.root == "never":
        out.append("clocks not locked: device.root is never")
    if cfg.device.stop_framework and cfg.device.root == "never":
        out.append("framework still running: device.root is never")
    if opts.payload.url and not opts.payload.sha256:
        out.append("the payload is fetched without a sha256 check (payload.sha256 is not set)")
    return out


def payload_arg(opts: LavaOptions) -> str:
    """The device script's PAYLOAD: a path already on the device, or the fetched payload's name
    in the private work folder."""
    return opts.payload.path or opts.payload.device_path("").lstrip("/")


def build_testdef(cfg: Config, opts: LavaOptions, warnings: list[str] | None = None) -> dict[str, Any]:
    q = shlex.quote
    steps = steps_of(cfg)
    warnings = generation_warnings(cfg, opts) if warnings is None else warnings
    payload = payload_arg(opts)
    workdir = opts.workdir
    sha = f" {q(opts.payload.sha256)}" if opts.payload.sha256 else ""  # checked before each execution
    main = f"sh ./{MAIN_SCRIPT}"
    record = json.dumps(run_record(cfg, opts, steps, warnings), separators=(",", ":"), sort_keys=False)
    run = [_write_file(name, text) for name, text in device_scripts().items()]
    run.append(
        f"{main} start {q(workdir)} {q(payload)} {map_count(cfg)} {q(cfg.device.sysfs)} {q(cfg.device.procfs)} "
        f"{q(record)} "
        f"{q(cpufreq_spec(cfg))} {1 if cfg.device.stop_framework and cfg.device.root != 'never' else 0}"
    )
    limit = max(1, math.ceil(cfg.benchmark.timeout_s))
    pin = ",".join(str(c) for c in cfg.device.pin) if cfg.device.pin else "-"
    for s in steps:
        args = " ".join(q(a) for a in s.invocation.args)
        run.append(f"{main} scenario {q(workdir)} {q(payload)} {s.index} {q(s.case)} {s.invocation.arm} "
                   f"{cfg.benchmark.forks} {limit} {q(pin)}{sha} -- {args}")
    run.append(f"{main} finish {q(workdir)} {q(cfg.device.procfs)} {q(cfg.device.sysfs)}")
    testdef: dict[str, Any] = {
        "metadata": {
            "format": "Lava-Test Test Definition 1.0",
            "name": TESTDEF_NAME,
            "description": f"devbench {cfg.run.name}: fork() cost with named against unnamed anonymous VMAs "
                           f"({len(cfg.benchmark.scenarios)} scenarios"
                           f"{f' at {len(cfg.benchmark.vma_counts)} VMA counts' if cfg.benchmark.sweep else ''}, "
                           f"{cfg.benchmark.forks} forks per arm)",
            "scope": ["performance"],
            "devices": [opts.device_type],
        },
    }
    if opts.payload.url:
        testdef["install"] = {"steps": fetch_steps(opts.payload.url, payload, opts.payload.sha256, workdir)}
    testdef["run"] = {"steps": run}
    return testdef


def fetch_steps(url: str, name: str, sha256: str | None, workdir: str) -> list[str]:
    """install.sh runs without `set -e`: the first step sets it, so a failed fetch fails the install.
    Its working folder is the test's own (LAVA cds there, as for run.sh): the fresh private work
    folder's path is recorded there, and the payload is fetched and checked inside that folder."""
    q = shlex.quote
    part, dest = f'"$d"/{q(name + ".part")}', f'"$d"/{q(name)}'
    steps = [
        "set -e",
        f"d=$(mktemp -d {q(workdir + '.XXXXXX')})",
        f"printf '%s\\n' \"$d\" > {WORKDIR_FILE}",
        f"if command -v wget >/dev/null 2>&1; then wget -O {part} {q(url)}; else curl -fsSL -o {part} {q(url)}; fi",
    ]
    if sha256:
        check = f'"$d"/{q(name + ".sha256")}'
        steps += [f"printf '%s  %s\\n' {q(sha256)} {part} > {check}", f"sha256sum -c {check}"]
    steps += [f"chmod 755 {part}", f"mv {part} {dest}"]
    return steps


def _write_file(name: str, text: str) -> str:
    """A here-document step that writes a fixed file into the test's folder (the run.sh cwd)."""
    lines = text.rstrip("\n").split("\n")
    if HEREDOC_END in lines:
        raise AssertionError(f"{name} contains the here-document end marker {HEREDOC_END}")
    return "\n".join([f"cat > {name} <<'{HEREDOC_END}'", *lines, HEREDOC_END])
