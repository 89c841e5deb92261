"""results.json read back: JSON text -> a results dict whose every field that the analysis and
the reports read has the type they expect, or ResultsError naming the file and the field.

`devbench report` and `devbench compare` take files that may be truncated, hand-edited or
not devbench's at all; a bad one gives one line ("results.json: samples[3].fork_ns[0] must be
an integer 0..2**63-1, not a string"), never a traceback from deep inside a renderer.

The shape is the one devbench.results writes (schema "devbench/results/2"; 1 is read too). Fields that only
a report shows as generic tables (targets[].device, .conditions, checks, ...) may hold any JSON;
fields that code reads by name or computes with are checked here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from devbench.errors import ResultsError

SCHEMA = "devbench/results/2"  # devbench.results.SCHEMA (which imports this module; a test keeps them equal)
READABLE = (SCHEMA, "devbench/results/1")  # 1: before exit_ns (payload 1 timed the child's exit inside the fork)
MAX_DEPTH = 64  # deeper JSON is not a results file (and json's decoder recurses)
_BIG = 2**63  # integers beyond int64 are not measurements (and break float conversion)

Check = Callable[[Any, str], "str | None"]


def read_results(path: str | Path) -> dict[str, Any]:
    """Read and check results.json, or the one in a run folder (without the summary, which
    devbench.results.load computes)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ResultsError(str(p), "no such file") from None
    except OSError as exc:
        raise ResultsError(str(p), f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(str(p), f"not UTF-8 text (byte {exc.start})") from None
    return parse_results(text, str(p))


def parse_results(text: str, where: str) -> dict[str, Any]:
    """Parse and check results.json text; raise ResultsError(where, problem) if it is not one."""
    try:
        data = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ResultsError(where, f"not valid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise ResultsError(where, "not valid results: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ResultsError(where, f"not valid results: {str(exc).split(':')[0]}") from None
    problem = shape_problem(data)
    if problem:
        raise ResultsError(where, problem)
    return data


def _constant(name: str) -> float:
    # NaN and Infinity are not JSON, but Python writes and reads them; keep them as floats,
    # and let the shape check refuse them where a number must be finite.
    return float(name.replace("Infinity", "inf"))


def shape_problem(data: Any) -> str | None:
    """The first field of data that does not have the type devbench reads it as, or None."""
    if not isinstance(data, dict) or data.get("schema") not in READABLE:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        return f"not a devbench results file (schema {_short(found)}, expected {SCHEMA!r})"
    if _depth(data) > MAX_DEPTH:
        return f"not valid results: nested deeper than {MAX_DEPTH} levels"
    present = []
    for key, kind, required in (("run", dict, True), ("targets", list, True), ("samples", list, True),
                                ("errors", list, True), ("checks", list, False), ("profiles", list, False)):
        if key not in data and not required:
            continue
        if not isinstance(data.get(key), kind) and not (key == "profiles" and data[key] is None):
            return f"field {key!r} is missing or not a {kind.__name__}"
        present.append(key)
    for key in sorted(present, key=("samples", "targets", "errors", "checks", "profiles", "run").index):
        problem = TOP[key](data[key], key)  # the samples first: they are what a results file is for
        if problem:
            return problem
    for key, value in data.items():  # the rest is shown as JSON text, so it must be printable
        problem = _any(value, _key(key))
        if problem:
            return problem
    return None


# -- checks -------------------------------------------------------------------------------------

def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    text = repr(v) if isinstance(v, (str, int, float, bool, type(None))) and not _huge(v) else _kind(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(k: Any) -> str:
    text = str(k)
    return text if text.isprintable() and len(text) <= 80 else repr(text[:80])


def _huge(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) >= _BIG


def _depth(v: Any) -> int:
    """Nesting depth, without recursion (json.loads already bounds it by Python's recursion limit)."""
    deepest, stack = 0, [(v, 1)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack += [(x, d + 1) for x in item.values()]
        elif isinstance(item, list):
            stack += [(x, d + 1) for x in item]
    return deepest


def _any(v: Any, at: str) -> str | None:
    # shown as JSON text: integers beyond int64 cannot even be printed (Python's 4300-digit limit)
    stack = [(v, at)]
    while stack:
        item, where = stack.pop()
        if _huge(item):
            return f"{where} is a number too large for a results file"
        if isinstance(item, dict):
            stack += [(x, f"{where}.{_key(k)}") for k, x in item.items()]
        elif isinstance(item, list):
            stack += [(x, f"{where}[{i}]") for i, x in enumerate(item)]
    return None


def scalar(v: Any, at: str) -> str | None:
    if v is None or isinstance(v, (str, bool, float)) or (isinstance(v, int) and not _huge(v)):
        return None
    return f"{at} must be a plain value (text or number), not {_kind(v)}"


def text(v: Any, at: str) -> str | None:
    return None if isinstance(v, str) else f"{at} must be a string, not {_kind(v)}"


def optional(check: Check) -> Check:
    return lambda v, at: None if v is None else check(v, at)


def integer(lo: int, hi: int) -> Check:
    def check(v: Any, at: str) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return f"{at} must be an integer {lo}..{_bound(hi)}, not {_short(v)}"
        return None
    return check


def _bound(hi: int) -> str:
    return "2**63-1" if hi == _BIG - 1 else str(hi)


def number(v: Any, at: str) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or _huge(v) or (isinstance(v, float) and math.isnan(v)):
        return f"{at} must be a number, not {_short(v)}"
    return None


def one_of(*values: str) -> Check:
    return lambda v, at: None if v in values else f"{at} must be one of {', '.join(values)}, not {_short(v)}"


def mapping(values: Check = _any) -> Check:
    def check(v: Any, at: str) -> str | None:
        if not isinstance(v, dict):
            return f"{at} must be a mapping, not {_kind(v)}"
        for k, x in v.items():
            problem = values(x, f"{at}.{_key(k)}")
            if problem:
                return problem
        return None
    return check


def list_of(item: Check) -> Check:
    def check(v: Any, at: str) -> str | None:
        if not isinstance(v, list):
            return f"{at} must be a list, not {_kind(v)}"
        for i, x in enumerate(v):
            problem = item(x, f"{at}[{i}]")
            if problem:
                return problem
        return None
    return check


def record(required: dict[str, Check], opt: dict[str, Check] | None = None) -> Check:
    """A mapping with these keys (others may be there and hold any JSON)."""
    def check(v: Any, at: str) -> str | None:
        if not isinstance(v, dict):
            return f"{at} must be a mapping, not {_kind(v)}"
        for k, c in required.items():
            if k not in v:
                return f"{at}.{k} is missing"
        for k, c in {**required, **(opt or {})}.items():
            if k in v:
                problem = c(v[k], f"{at}.{k}")
                if problem:
                    return problem
        return None
    return check


def when(field: str, value: Any, then: Check) -> Check:
    """Apply `then` to a mapping whose `field` equals value (e.g. the keys of one kind of record)."""
    return lambda v, at: then(v, at) if isinstance(v, dict) and v.get(field) == value else None


def all_of(*checks: Check) -> Check:
    def check(v: Any, at: str) -> str | None:
        for c in checks:
            problem = c(v, at)
            if problem:
                return problem
        return None
    return check


# -- the shape ----------------------------------------------------------------------------------

_s, _n = optional(text), optional(scalar)
SCENARIO = record({"name": scalar}, {"pages": optional(integer(0, _BIG - 1))})
# results.summarize reads run.config.benchmark.scenarios[].name/pages of the mappings among them
BENCHMARK = record({}, {"mode": _n, "scenarios": optional(list_of(lambda v, at: SCENARIO(v, at) if isinstance(v, dict) else None))})
CONFIG = record({}, {"benchmark": BENCHMARK})
RUN = record({"id": scalar, "name": scalar, "status": scalar, "started": scalar, "ended": scalar,
              "devbench_version": scalar, "config_file": scalar}, {"config": CONFIG})

FACTS = all_of(  # probe.Facts.to_json(): the report's device line reads these
    record({"machine": scalar, "kernel_release": scalar, "android": scalar, "cpus": scalar, "mem_total_kb": optional(number)},
           {"model": scalar, "android_sdk": scalar}),
    when("android", True, record({"android_sdk": scalar, "model": scalar})),
)
CHANGE = record({"setting": scalar, "before": _any, "after": _any, "restored": _any})
TARGET = all_of(
    record({"name": text}, {"transport": _n, "status": _n, "facts": optional(FACTS),
                            "warnings": optional(list_of(_any)), "device_changes": optional(list_of(CHANGE)),
                            "transport_info": optional(mapping())}),
    lambda v, at: _transport_info(v, at),
)
SAMPLE = record({"target": text, "scenario": text, "arm": one_of("named", "unnamed"),
                 "fork_ns": list_of(integer(0, _BIG - 1))},
                {"batch": integer(0, 2**31 - 1), "warmup": optional(integer(0, 2**31 - 1)),
                 "exit_ns": optional(list_of(integer(0, _BIG - 1)))})
ERROR = record({"kind": scalar, "message": scalar, "target": _s, "scenario": _s, "arm": _s})
CHECK = all_of(
    record({}, {"target": _n, "check": _n}),
    when("check", "setup", record({"scenario": scalar, "vmas_expected": scalar, "vmas_created": scalar, "vmas_ok": scalar,
                                   "map_ns": optional(number), "populate_ns": optional(number)})),
    when("check", "named_check", record({"scenario": scalar, "vmas_expected": scalar, "anon_lines": scalar, "ok": scalar,
                                         "name_ns": optional(number)})),
)
PROFILE = all_of(
    record({}, {"target": _n, "scenario": _n, "arm": _n}),
    lambda v, at: _profile(v, at),
)


def _transport_info(t: dict[str, Any], at: str) -> str | None:
    ti = t.get("transport_info")
    if not isinstance(ti, dict) or not ti:
        return None
    if t.get("transport") == "labgrid":
        need = ("place", "coordinator", "resource", "ssh", "acquired_at", "acquired_as")
    elif ti.get("via"):
        need = ("serial", "via", "lab_host", "adb_server")
    elif t.get("transport") == "qemu":
        need = ("arch", "kernel", "kernel_config_source", "boot_seconds", "boot_attempts", "console_log")
    else:
        return None
    return record({k: scalar for k in need})(ti, f"{at}.transport_info")


def _profile(p: dict[str, Any], at: str) -> str | None:
    if not isinstance(p.get("folded"), dict):
        return None  # not shown
    return record({"folded": mapping(integer(0, _BIG - 1)),
                   "stats": record({"samples": scalar, "unknown_frames": scalar, "unknown_by_file": optional(mapping(scalar))}),
                   "files": mapping(scalar), "fork_path_samples": scalar, "payload_samples": scalar,
                   "system_wide": scalar})(p, at)


TOP: dict[str, Check] = {
    "run": RUN,
    "targets": list_of(TARGET),
    "samples": list_of(SAMPLE),
    "errors": list_of(ERROR),
    "checks": list_of(CHECK),
    "profiles": optional(list_of(PROFILE)),
}
