"""results.json read back: JSON text -> a results dict whose every field that the analysis and
the reports read has the type they expect, or ResultsError naming the file and the field.

The shape is published as a JSON Schema, `devbench/results/results-2.schema.json` (in the
package; `schema_file()`), the one definition of the format: this module checks files with it
(the `jsonschema` library) and turns the first problem into one line ("results.json:
samples[3].fork_ns[0] must be an integer 0..2**63-1, not a string"), never a traceback from deep
inside a renderer. `devbench report` and `devbench compare` take files that may be truncated,
hand-edited or not devbench's at all.

Two guards stay in code, as they are about the text rather than the format: JSON nested
deeper than MAX_DEPTH, and NaN (Python reads and writes it, JSON has none; a number field
refuses it).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devbench.errors import ResultsError

SCHEMA = "devbench/results/2"  # devbench.results.store.SCHEMA (which imports this module; a test keeps them equal)
READABLE = (SCHEMA, "devbench/results/1")  # 1: before exit_ns (payload 1 timed the child's exit inside the fork)
MAX_DEPTH = 64  # deeper JSON is not a results file (and json's decoder recurses)
_BIG = 2**63  # integers beyond int64 are not measurements (and break float conversion)
# the order in which problems are reported: the samples first, they are what a results file is for
_ORDER = ("samples", "targets", "errors", "checks", "profiles", "run")
_TOP_KINDS = {
    "run": "mapping",
    "targets": "list",
    "samples": "list",
    "errors": "list",
    "checks": "list",
    "profiles": "list",
}


def schema_file() -> Path:
    """The published JSON Schema of results.json (devbench/results/N, N = the current version)."""
    return Path(__file__).with_name(f"results-{SCHEMA.rsplit('/', 1)[1]}.schema.json")


@functools.cache
def validator() -> Any:
    """The schema's validator, once per process; NaN is no number (the schema's JSON has none)."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema := json.loads(schema_file().read_text(encoding="utf-8")))
    cls.check_schema(schema)
    number = cls.TYPE_CHECKER.redefine(
        "number",
        lambda checker, v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))
        ),
    )
    return jsonschema.validators.extend(cls, type_checker=number)(schema)


def read_results(path: str | Path) -> dict[str, Any]:
    """Read and check results.json, or the one in a run folder (without the summary, which
    devbench.results.store.load computes)."""
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
    # and let the schema check refuse NaN where a number must be one.
    return float(name.replace("Infinity", "inf"))


def shape_problem(data: Any) -> str | None:
    """The first field of data that does not have the type devbench reads it as, or None."""
    if not isinstance(data, dict) or data.get("schema") not in READABLE:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        return f"not a devbench results file (schema {_short(found)}, expected {SCHEMA!r})"
    if _depth(data) > MAX_DEPTH:
        return f"not valid results: nested deeper than {MAX_DEPTH} levels"
    errors = list(_leaves(validator().iter_errors(_lighter(data))))
    if not errors:
        return None
    return _message(min(errors, key=_rank))


TIME_ARRAYS = ("fork_ns", "exit_ns")


def _lighter(data: dict[str, Any]) -> dict[str, Any]:
    """data, with each sample's time arrays that already satisfy the schema's `ns` (integers in
    its range, read from the schema) left empty for the validator: they are most of a file, and
    jsonschema takes about 18 us per value (measured: 2.1 s for 120,000 times; 0.06 s this way,
    the hand-written checker it replaces took 0.12 s).
    An array with any other value is kept whole, so the validator reports it."""
    ns = validator().schema["$defs"]["ns"]
    lo, hi = ns["minimum"], ns["maximum"]

    def fine(a: Any) -> bool:
        return isinstance(a, list) and all(type(x) is int and lo <= x <= hi for x in a)

    samples = data.get("samples")
    if not isinstance(samples, list):
        return data
    light = [{**s, **{k: [] for k in TIME_ARRAYS if fine(s.get(k))}} if isinstance(s, dict) else s for s in samples]
    return {**data, "samples": light}


# -- from the schema's errors to one line ---------------------------------------------------------

def _leaves(errors: Iterable[Any]) -> Iterable[Any]:
    """The errors that say what is wrong: those inside if/then and allOf, not their wrappers."""
    for e in errors:
        if e.context:
            yield from _leaves(e.context)
        else:
            yield e


def _rank(e: Any) -> tuple[int, tuple[Any, ...]]:
    path = list(e.absolute_path)
    top = path[0] if path else (_missing(e) or "")
    return (
        _ORDER.index(top) if top in _ORDER else len(_ORDER),
        tuple(str(p).zfill(12) if isinstance(p, int) else str(p) for p in path),
    )


def _missing(e: Any) -> str | None:
    if e.validator != "required" or not isinstance(e.instance, dict):
        return None
    return next((k for k in e.validator_value if k not in e.instance), None)


def _at(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{_key(p)}" if out else _key(p))
    return out


def _message(e: Any) -> str:
    path = list(e.absolute_path)
    at, v, kind = _at(path), e.instance, e.validator
    if len(path) <= 1 and (path[0] if path else _missing(e)) in _TOP_KINDS and kind in ("type", "required"):
        key = path[0] if path else _missing(e)
        return f"field {key!r} is missing or not a {'dict' if _TOP_KINDS[str(key)] == 'mapping' else 'list'}"
    if kind == "required":
        return f"{at + '.' if at else ''}{_missing(e)} is missing"
    if _huge(v) and e.schema.get("minimum", 0) < 0:  # any JSON (shown as text): int64 at most
        return f"{at} is a number too large for a results file"
    types = e.schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and (kind in ("minimum", "maximum") or (kind == "type" and "number" not in types)):
        lo, hi = e.schema.get("minimum", -_BIG), e.schema.get("maximum", _BIG - 1)
        return f"{at} must be an integer {lo}..{'2**63-1' if hi == _BIG - 1 else hi}, not {_short(v)}"
    if _huge(v):
        return f"{at} is a number too large for a results file"
    if kind == "enum":
        return f"{at} must be one of {', '.join(str(x) for x in e.validator_value)}, not {_short(v)}"
    if kind == "type":
        want = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        if set(want) == {"string", "number", "boolean", "null"}:
            return f"{at} must be a plain value (text or number), not {_kind(v)}"
        words = {"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
                 "integer": "an integer", "boolean": "a boolean"}
        named = " or ".join(words[w] for w in want if w in words) or "null"
        return f"{at} must be {named}, not {_short(v) if 'number' in want else _kind(v)}"
    return f"{at or 'the file'}: {e.message[:120]}"


def _kind(v: Any) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
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
