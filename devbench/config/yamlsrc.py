"""YAML with positions: safe loading that remembers where every value came from.

yaml.safe_load forgets line numbers; a config error must name file:line:column and the
field. So we compose the node tree with the safe loader and build plain Python values,
keeping a map from field path to (line, column). Only safe tags are constructed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devbench.errors import ConfigError, ConfigErrors

FieldPath = tuple[str | int, ...]
REQUIRED: Any = object()
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_INT_TAG = "tag:yaml.org,2002:int"


def format_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text.isprintable():
                text = repr(text)  # a key with a newline or control character stays on one line
            out += ("." if out else "") + text
    return out


@dataclass
class Source:
    """A parsed YAML document and where each field path sits in the file."""

    file: str
    data: Any
    marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    overrides: dict[FieldPath, str] = field(default_factory=dict)  # --set KEY=VALUE: path -> its text
    # where relative paths in it (a kernel variant's patches) are found: the config file's folder;
    # for a run's recorded config, the folder of the config file it was started from (sealed)
    base_dir: str | None = None

    def folder(self) -> Path:
        """The folder relative paths are found from: base_dir, else the file's, else the cwd."""
        if self.base_dir:
            return Path(self.base_dir)
        f = Path(self.file)
        return f.parent if f.is_file() else Path.cwd()

    def error(self, path: FieldPath, message: str, *, at_key: bool = False) -> ConfigError:
        for cut in range(len(path), 0, -1):  # in or below an overridden field: the override is named
            if path[:cut] in self.overrides:
                return ConfigError(f"--set {self.overrides[path[:cut]]}", None, None, format_path(path), message)
        mark = self.marks.get(("@key",) + path if at_key else path)
        if mark is None:
            # fall back to the nearest enclosing field that has a position
            for cut in range(len(path), -1, -1):
                mark = self.marks.get(path[:cut])
                if mark:
                    break
        line, col = mark if mark else (None, None)
        return ConfigError(self.file, line, col, format_path(path), message)


# Bounds on what a config may expand to: YAML aliases can make a few lines stand for billions
# of values ("billion laughs"), and deep nesting exhausts the recursion of the composer.
MAX_DEPTH = 64
MAX_VALUES = 10_000
MAX_INT_BITS = 256
MAX_FILE_BYTES = 1024 * 1024


def load_yaml(text: str, file: str) -> Source:
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(file, None, None, "", f"larger than {MAX_FILE_BYTES // 1024} KiB: not a config")
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        line, col = _error_position(exc, text)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(file, line, col, "", f"not valid YAML: {problem}") from None
    except RecursionError:  # not expected after _check_depth; a traceback it must never be
        raise ConfigError(file, None, None, "", f"nested deeper than {MAX_DEPTH} levels") from None
    src = Source(file=file, data=None)
    if node is None:
        raise ConfigError(file, 1, 1, "", "the file is empty")
    constructor = yaml.SafeLoader("")
    src.data = _build(node, (), src, constructor, [0])
    return src


# libyaml where there is one: PyYAML's own scanner is quadratic in the depth of flow nesting
# ("[[[[..." of a few thousand brackets takes seconds), libyaml is linear and has its own bound.
_EVENTS_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream (which is not recursive),
    before the composer recurses into it. Other errors are left to PyYAML, which composes the
    document and has the last word on what is valid (libyaml differs on a few edge cases)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_EVENTS_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
                    raise ConfigError(file, line, column, "", f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except (yaml.YAMLError, UnicodeError) as exc:
        if "nesting depth" in str(exc):
            line, col = _error_position(exc, text) if isinstance(exc, yaml.YAMLError) else (None, None)
            raise ConfigError(file, line, col, "", f"nested deeper than {MAX_DEPTH} levels") from None
        if _EVENTS_LOADER is yaml.SafeLoader:
            raise


def safe_load(text: str) -> Any:
    """yaml.safe_load for data files that are not configs (LAVA results and job logs): nesting
    bounded as for configs, and a value that its tag cannot convert (`!!float x`) raises
    yaml.YAMLError like every other YAML problem, not whatever PyYAML's converter raised."""
    try:
        _check_depth(text, "")
    except ConfigError as exc:
        raise yaml.YAMLError(exc.message) from None
    try:
        return yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - the safe loader
    except yaml.YAMLError:
        raise
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None
    except Exception as exc:  # noqa: BLE001 - e.g. ValueError from `!!int x`
        raise yaml.YAMLError(f"bad value: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _error_position(exc: yaml.YAMLError, text: str) -> tuple[int | None, int | None]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1, mark.column + 1
    position = getattr(exc, "position", None)  # ReaderError: a character offset
    if isinstance(position, int):
        start = text.rfind("\n", 0, position) + 1
        return text.count("\n", 0, position) + 1, position - start + 1
    return None, None


def load_file(path: Path) -> Source:
    try:
        with open(path, "rb") as fh:  # bounded: a config is small (and /dev/zero is not one)
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), None, None, "", "no such file") from None
    except OSError as exc:
        raise ConfigError(str(path), None, None, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(str(path), None, None, "", f"larger than {MAX_FILE_BYTES // 1024} KiB: not a config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(str(path), line, column, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    return load_yaml(text, str(path))


def _build(node: yaml.Node, path: FieldPath, src: Source, constructor: yaml.SafeLoader, count: list[int]) -> Any:
    src.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise src.error(path, f"the config expands to more than {MAX_VALUES} values (YAML aliases?): refused")
    if len(path) > MAX_DEPTH:  # an alias inside its own anchor (`&a [*a]`) nests without end
        raise src.error(path[:MAX_DEPTH], f"nested deeper than {MAX_DEPTH} levels (an alias inside its own anchor?)")
    if not isinstance(node, yaml.ScalarNode) and node.tag not in (_MAP_TAG, _SEQ_TAG):
        raise src.error(path, f"unsupported YAML tag {node.tag}")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path, src, constructor)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                src.marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                raise src.error(path + (key,), "duplicate key")
            src.marks[("@key",) + path + (key,)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = _build(value_node, path + (key,), src, constructor, count)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), src, constructor, count) for i, item in enumerate(node.value)]
    return _scalar(node, path, src, constructor)


def _scalar(node: yaml.Node, path: FieldPath, src: Source, constructor: yaml.SafeLoader) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise src.error(path, "a key must be a plain value")
    where = (src.file, node.start_mark.line + 1, node.start_mark.column + 1, format_path(path))
    if node.tag == _INT_TAG and len(node.value) > MAX_INT_BITS:
        raise ConfigError(*where, "number too large")
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(*where, f"bad value: {problem}") from None
    except Exception:  # noqa: BLE001 - PyYAML's converters raise whatever the text makes them
        # an explicit tag on a value it cannot convert, e.g. `!!int abc`, `!!float`, `!!timestamp 2020-13-45`
        raise ConfigError(*where, f"bad value: {node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}") from None
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ConfigError(*where, "number too large")
    return value


class Section:
    """Typed reads from one mapping of a Source; unknown keys are refused by done()."""

    def __init__(self, src: Source, path: FieldPath, data: Any):
        self.src = src
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise src.error(path, f"must be a mapping, not {typename(data)}")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def error(self, key: str | int, message: str) -> ConfigError:
        return self.src.error(self.path + (key,), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        self.seen.add(key)
        if key not in self.data or self.data[key] is None and default is not REQUIRED:
            if default is REQUIRED:
                raise self.src.error(self.path + (key,), "is required")
            return default
        return self.data[key]

    def section(self, key: str, required: bool = False) -> Section | None:
        if key not in self.data:
            self.seen.add(key)
            if required:
                raise self.src.error(self.path + (key,), "is required")
            return None
        return Section(self.src, self.path + (key,), self.raw(key, {}))

    def sub(self, key: str | int, data: Any) -> Section:
        return Section(self.src, self.path + (key,), data)

    def integer(self, key: str, default: Any = REQUIRED, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {typename(value)} {value!r}")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise self.error(key, f"must be {_range(lo, hi)} (got {value})")
        return value

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {typename(value)} {value!r}")
        return value

    def string(self, key: str, default: Any = REQUIRED, *, choices: Iterable[str] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # e.g. a serial or host written without quotes
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {typename(value)}")
        if value == "":
            raise self.error(key, "must not be empty")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def string_list(self, key: str, default: Any = REQUIRED) -> list[str]:
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return value

    def value(self, key: str, check: Callable[[Any], Any], default: Any = REQUIRED) -> Any:
        """Read a value converted by check(), which raises ValueError with a message."""
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        try:
            return check(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def done(self) -> None:
        """Every unknown key of the section is an error (all of them, with a suggestion each)."""
        unknown = []
        for key in self.data:
            if key not in self.seen:
                known = sorted(self.seen)
                hint = difflib.get_close_matches(key, known, n=1)
                more = (
                    f"; did you mean {hint[0]!r}?" if hint else (f"; known keys: {', '.join(known)}" if known else "")
                )
                unknown.append(self.src.error(self.path + (key,), f"unknown key {key!r}{more}", at_key=True))
        if unknown:
            raise ConfigErrors.of(unknown)


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def typename(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty",
    }.get(type(value), type(value).__name__)
