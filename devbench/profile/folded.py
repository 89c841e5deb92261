"""Profiler text -> folded stacks ("root;...;leaf" -> samples), plus what could not be symbolised.

Two inputs, one parser each:
- `perf script` default output of `perf record -g` (Linux perf);
- `simpleperf report-sample --show-callchain` text output (Android's simpleperf; format of
  PrintSample() in system/extras/simpleperf/cmd_report_sample.cpp).

The root frame of every stack is the process (thread) name; the leaf is where the sample hit.
Every sample counts 1 (cpu-clock samples have a fixed period). Unsymbolised frames become
"[unknown]" and are counted, not dropped. Pure: text in, data out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devbench.analysis.model import clean
from devbench.errors import DevbenchError

UNKNOWN = "[unknown]"
KERNEL_FILE = "[kernel.kallsyms]"
# Frames on the fork and exit paths of the benchmark (6.12 x86_64; arm64 has __arm64_sys_clone).
FORK_EXIT_FUNCTIONS = frozenset({"kernel_clone", "__do_sys_fork", "__do_sys_clone", "__x64_sys_fork",
                                 "__x64_sys_clone", "__arm64_sys_clone", "copy_process", "dup_mmap",
                                 "do_exit", "exit_mmap"})


class FoldedError(DevbenchError, ValueError):
    """A folded-stacks text that cannot be read: names the line."""

    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"folded stacks line {self.line}: {self.message}"


@dataclass
class ParseStats:
    """What the parser saw, so the report can say what could not be symbolised."""

    samples: int = 0
    unknown_leaf_samples: int = 0     # leaf frame unsymbolised ("[unknown]" or a raw address)
    kernel_leaf_samples: int = 0
    kernel_frames: int = 0
    user_frames: int = 0
    unknown_frames: int = 0           # unsymbolised frames anywhere in a stack (kernel or user)
    unknown_by_file: dict[str, int] = field(default_factory=dict)  # unsymbolised frames per binary
    skipped_lines: int = 0            # lines neither parser understood (warnings, other records)
    lost_samples: int | None = None   # simpleperf's lost_situation; perf script does not say

    def to_json(self) -> dict[str, Any]:
        return clean(self.__dict__.copy())


@dataclass
class Profile:
    """One arm's folded stacks and the parse statistics behind them."""

    stacks: Counter[str]
    stats: ParseStats

    def to_json(self) -> dict[str, Any]:
        """The statistics only: the stacks go to their own file with write_folded()."""
        return {**self.stats.to_json(), "distinct_stacks": len(self.stacks)}


_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_RAW_ADDRESS = re.compile(r"^(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{8,})$")
_SIMPLEPERF_UNKNOWN = re.compile(r"\[\+[0-9a-fA-F]+\]$")  # "*libc.so[+1a2b]", "[kernel.kallsyms][+ffff...]"


def is_unknown(symbol: str) -> bool:
    """True for a frame the profiler could not name: [unknown], unknown, a raw address, file[+off]."""
    s = symbol.strip()
    return (not s or s in (UNKNOWN, "unknown") or bool(_RAW_ADDRESS.match(s))
            or bool(_SIMPLEPERF_UNKNOWN.search(s)))


def is_kernel_file(file: str) -> bool:
    return file.startswith("[kernel.kallsyms") or file.startswith("[guest.kernel.kallsyms") or file.endswith(".ko")


def _frame_name(symbol: str) -> str:
    # ';' separates frames in the folded format and a newline ends the line: neither may stay.
    return _OFFSET.sub("", symbol.strip()).replace(";", ":").replace("\n", " ")


class _Builder:
    def __init__(self) -> None:
        self.stacks: Counter[str] = Counter()
        self.stats = ParseStats()
        self._unknown: Counter[str] = Counter()

    def add(self, comm: str, frames: list[tuple[str, str]]) -> None:
        """frames: (symbol, file), leaf first, as the profilers print them."""
        names = []
        for symbol, file in frames:
            kernel = is_kernel_file(file)
            self.stats.kernel_frames += kernel
            self.stats.user_frames += not kernel
            if is_unknown(symbol):
                self.stats.unknown_frames += 1
                self._unknown[file or UNKNOWN] += 1
                names.append(UNKNOWN)
            else:
                names.append(_frame_name(symbol))
        if not frames:
            names.append(UNKNOWN)
        self.stats.samples += 1
        self.stats.unknown_leaf_samples += names[0] == UNKNOWN
        self.stats.kernel_leaf_samples += bool(frames) and is_kernel_file(frames[0][1])
        root = _frame_name(comm) or UNKNOWN
        self.stacks[";".join([root, *reversed(names)])] += 1

    def profile(self) -> Profile:
        self.stats.unknown_by_file = dict(sorted(self._unknown.items()))
        return Profile(self.stacks, self.stats)


# perf script: "comm pid[/tid] [cpu] time: [period] event: [ip sym+off (dso)]". The comm may be
# right-aligned (leading spaces) and may contain spaces; cpu or time must be there.
_PERF_HEADER = re.compile(
    r"^\s*(?P<comm>\S.*?)\s+(?P<pid>-?\d+)(?:/(?P<tid>-?\d+))?\s+"
    r"(?:(?P<cpu>\[\d+\])\s+)?(?:(?P<time>\d+\.\d+):\s+)?"
    r"(?:(?P<period>\d+)\s+)?(?P<event>[^\s:][^\s]*?):(?:\s+(?P<tail>.*))?$")
_PERF_FRAME = re.compile(r"^\s*(?P<addr>[0-9a-fA-F]+)\s+(?P<sym>.*?)\s*\((?P<file>[^()]*)\)\s*$")


def parse_perf_script(text: str) -> Profile:
    """`perf script` output (default fields, callchains from `perf record -g` or without)."""
    b = _Builder()
    comm: str | None = None
    frames: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if comm is not None:
                b.add(comm, frames)
            comm, frames = None, []
            continue
        header = _PERF_HEADER.match(line)
        if header and not (header["cpu"] or header["time"]):
            header = None  # a sample header always has the cpu or the time; frames never do
        frame = None if header else _PERF_FRAME.match(line)
        if header:
            if comm is not None:
                b.add(comm, frames)
            comm, frames = header["comm"], []
            tail = _PERF_FRAME.match(header["tail"] or "")
            if tail:  # a sample without callchain: its one frame is on the header line
                frames.append((tail["sym"], tail["file"]))
        elif frame and comm is not None:
            frames.append((frame["sym"], frame["file"]))
        else:
            b.stats.skipped_lines += 1
    if comm is not None:
        b.add(comm, frames)
    return b.profile()


def parse_simpleperf_report_sample(text: str) -> Profile:
    """`simpleperf report-sample --show-callchain` text output.

    Blocks at column 0 ("sample:", "meta_info:", "context_switch:", "lost_situation:"); fields
    "key: value" indented two spaces; a sample's own vaddr_in_file/file/symbol is the leaf and
    its "callchain:" entries (indented four) are the callers, leaf to root. Older simpleperf
    printed "dso:" for "file:"; both are read. Unknown symbols print as "*file[+vaddr]".
    """
    b = _Builder()
    block: str | None = None
    sample: dict[str, str] = {}
    frames: list[dict[str, str]] = []
    lost: int | None = None

    def finish() -> None:
        if block == "sample":
            chain = [(f.get("symbol", ""), f.get("file", "")) for f in frames]
            b.add(sample.get("thread_name") or f"tid {sample.get('thread_id', '?')}", chain)

    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip())
        key, sep, value = raw.strip().partition(":")
        value = value.strip()
        if not sep:
            b.stats.skipped_lines += 1
        elif indent == 0:
            finish()
            block, sample, frames = key, {}, []
        elif block == "lost_situation":
            lost = int(value) if key == "lost_count" and value.isdigit() else lost
        elif block != "sample" or key == "callchain":
            continue
        elif key in ("vaddr_in_file", "ip"):  # an entry starts at its address
            frames.append({key: value})
        elif key in ("file", "dso", "symbol"):
            key = "file" if key == "dso" else key
            if not frames or key in frames[-1]:
                frames.append({})
            frames[-1][key] = value
        else:
            sample[key] = value
    finish()
    b.stats.lost_samples = lost
    return b.profile()


def filter_stacks(folded: Mapping[str, int], any_of: Iterable[str] = FORK_EXIT_FUNCTIONS) -> Counter[str]:
    """Only the stacks that pass through at least one of the given functions (root excluded)."""
    wanted = set(any_of)
    return Counter({s: n for s, n in folded.items() if not wanted.isdisjoint(s.split(";")[1:])})


def write_folded(folded: Mapping[str, int]) -> str:
    """Brendan Gregg's folded format: "root;...;leaf count" per line, sorted by stack."""
    return "".join(f"{stack} {count}\n" for stack, count in sorted(folded.items()) if count > 0)


def read_folded(text: str) -> Counter[str]:
    stacks: Counter[str] = Counter()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            raise FoldedError(number, f"expected 'stack count', got {line[:80]!r}")
        stacks[stack] += int(count)
    return stacks
