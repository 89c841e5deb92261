"""Recording profiles on a device: find the profiler, choose the event, record a payload run,
symbolise on the device, pull the files.

The profiled runs are separate payload processes, after the timed ones: no timed sample is
ever taken with a profiler attached. Every command is an argument list; file paths on the
device are built from devbench's own names (scenario index, arm), never from config text.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from devbench.config import ProfileConfig
from devbench.device.probe import Facts
from devbench.errors import TargetError
from devbench.targets.base import Target

# where Android keeps its own simpleperf; Linux finds perf on PATH
_FIND = r"""
for t in perf simpleperf; do p=$(command -v "$t" 2>/dev/null) && echo "tool:$t=$p"; done
[ -x /system/bin/simpleperf ] && echo "tool:simpleperf=/system/bin/simpleperf"
echo "find=done"
"""


class ProfilerUnavailable(Exception):
    """No usable profiler on the device (the message says why); the timings go on."""


@dataclass(frozen=True)
class Profiler:
    tool: str  # "perf" | "simpleperf"
    path: str
    event: str
    call_graph: str  # "fp" | "dwarf"
    frequency: int
    version: str = ""
    system_wide: bool = True  # -a: per-task sampling does not see a process's own mm teardown at exit


    def record_argv(self, out: str, command: list[str]) -> list[str]:
        graph = (
            ["--call-graph", "dwarf"]
            if self.call_graph == "dwarf"
            else (["-g"] if self.tool == "perf" else ["--call-graph", "fp"])
        )
        freq = ["-F", str(self.frequency)] if self.tool == "perf" else ["-f", str(self.frequency)]
        wide = ["-a"] if self.system_wide else []
        # perf's build-id cache (~/.debug) would be a write outside the work folder; the data is
        # symbolised right away, on the same device, so the cache is not needed
        cache = ["--no-buildid-cache"] if self.tool == "perf" else []
        return [self.path, "record", *wide, *cache, "-e", self.event, *freq, *graph, "-o", out, "--", *command]

    def script_argv(self, data: str) -> list[str]:
        """Symbolised samples with call chains, as text on stdout."""
        if self.tool == "perf":
            return [self.path, "script", "-i", data]
        return [self.path, "report-sample", "--show-callchain", "-i", data]

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def find_profiler(target: Target, facts: Facts, cfg: ProfileConfig, root: bool = True) -> Profiler:
    res = target.run(["sh", "-c", _FIND], timeout=30)
    found: dict[str, str] = {}
    for line in res.stdout.splitlines():
        if line.startswith("tool:") and "=" in line:
            name, _, path = line[5:].partition("=")
            found.setdefault(name, path.strip())
    tool = cfg.tool if cfg.tool != "auto" else ("simpleperf" if facts.android else "perf")
    if tool not in found and cfg.tool == "auto":
        tool = next(iter(found), tool)
    if tool not in found:
        raise ProfilerUnavailable(
            f"profiling: no {tool} on the device (looked on PATH and /system/bin): timings only, no profiles"
        )
    path = found[tool]
    version = target.run([path, "--version"], timeout=30)
    if not version.ok:
        raise ProfilerUnavailable(
            f"profiling: {path} --version failed ({version.last_words() or f'exit {version.exit_code}'}): timings only"
        )
    event = cfg.event if cfg.event != "auto" else _choose_event(target, tool, path)
    return Profiler(tool, path, event, cfg.call_graph, cfg.frequency,
                    version.stdout.strip().splitlines()[0][:80] if version.stdout.strip() else "", system_wide=root)


def _choose_event(target: Target, tool: str, path: str) -> str:
    """cpu-cycles where the device has a hardware PMU that counts, else cpu-clock."""
    argv = [path, "stat", "-e", "cpu-cycles", "-x", ",", "--", "true"] if tool == "perf" else \
        [path, "stat", "-e", "cpu-cycles", "--csv", "true"]
    try:
        res = target.run(argv, timeout=30)
    except TargetError:
        return "cpu-clock"
    text = res.stdout + res.stderr
    if res.ok and "cycles" in text and "not supported" not in text and "not counted" not in text:
        return "cpu-cycles"
    return "cpu-clock"


def remote_name(workdir: str, index: int, arm: str, ext: str) -> str:
    return posixpath.join(workdir, f"profile-{index}-{arm}.{ext}")


def record(target: Target, prof: Profiler, command: list[str], data: str, timeout: float) -> None:
    res = target.run(prof.record_argv(data, command), timeout=timeout)
    if not res.ok:
        raise TargetError(target.name, f"{prof.tool} record", res.last_words() or f"exit {res.exit_code}")


def symbolise(target: Target, prof: Profiler, data: str, text: str, timeout: float) -> None:
    """Run perf script / simpleperf report-sample on the device, into a text file there."""
    res = target.run(["sh", "-c", '"$@" > "$0"', text, *prof.script_argv(data)], timeout=timeout)
    if not res.ok:
        raise TargetError(target.name, f"{prof.tool} {'script' if prof.tool == 'perf' else 'report-sample'}",
                          res.last_words() or f"exit {res.exit_code}")


def pull(target: Target, remote: str, local: Path) -> Path:
    local.parent.mkdir(parents=True, exist_ok=True)
    target.pull(remote, local)
    return local
