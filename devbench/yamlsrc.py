"""YAML with positions: safe loading that remembers where every value came from.

yaml.safe_load forgets line numbers; a config error must name file:line:column and the
field. So we compose the node tree with the safe loader and build plain Python values,
keeping a map from field path to (line, column). Only safe tags are constructed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from devbench.errors import ConfigError

FieldPath = tuple[str | int, ...]
REQUIRED: Any = object()
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def format_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Source:
    """A parsed YAML document and where each field path sits in the file."""

    file: str
    data: Any
    marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)

    def error(self, path: FieldPath, message: str, *, at_key: bool = False) -> ConfigError:
        mark = self.marks.get(("@key",) + path if at_key else path)
        if mark is None:
            # fall back to the nearest enclosing field that has a position
            for cut in range(len(path), -1, -1):
                mark = self.marks.get(path[:cut])
                if mark:
                    break
        line, col = mark if mark else (None, None)
        return ConfigError(self.file, line, col, format_path(path), message)


def load_yaml(text: str, file: str) -> Source:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            file,
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
            "",
            f"not valid YAML: {problem}",
        ) from None
    src = Source(file=file, data=None)
    if node is None:
        raise ConfigError(file, 1, 1, "", "the file is empty")
    constructor = yaml.SafeLoader("")
    src.data = _build(node, (), src, constructor)
    return src


def load_file(path: Path) -> Source:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), None, None, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, None, "", f"cannot read: {exc}") from None
    return load_yaml(text, str(path))


def _build(node: yaml.Node, path: FieldPath, src: Source, constructor: yaml.SafeLoader) -> Any:
    src.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
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
            out[key] = _build(value_node, path + (key,), src, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), src, constructor) for i, item in enumerate(node.value)]
    return _scalar(node, path, src, constructor)


def _scalar(node: yaml.Node, path: FieldPath, src: Source, constructor: yaml.SafeLoader) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise src.error(path, "a key must be a plain value")
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(
            src.file, node.start_mark.line + 1, node.start_mark.column + 1, format_path(path), f"bad value: {exc}"
        ) from None


class Section:
    """Typed reads from one mapping of a Source; unknown keys are refused by done()."""

    def __init__(self, src: Source, path: FieldPath, data: Any):
        self.src = src
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise src.error(path, f"must be a mapping, not {_typename(data)}")
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

    def section(self, key: str, required: bool = False) -> "Section | None":
        if key not in self.data:
            self.seen.add(key)
            if required:
                raise self.src.error(self.path + (key,), "is required")
            return None
        return Section(self.src, self.path + (key,), self.raw(key, {}))

    def sub(self, key: str | int, data: Any) -> "Section":
        return Section(self.src, self.path + (key,), data)

    def integer(self, key: str, default: Any = REQUIRED, *, lo: int | None = None, hi: int | None = None) -> int:
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {_typename(value)} {value!r}")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise self.error(key, f"must be {_range(lo, hi)} (got {value})")
        return value

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_typename(value)} {value!r}")
        return value

    def string(self, key: str, default: Any = REQUIRED, *, choices: Iterable[str] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # e.g. a serial or host written without quotes
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {_typename(value)}")
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
        for key in self.data:
            if key not in self.seen:
                known = sorted(self.seen)
                hint = difflib.get_close_matches(key, known, n=1)
                more = f"; did you mean {hint[0]!r}?" if hint else (f"; known keys: {', '.join(known)}" if known else "")
                raise self.src.error(self.path + (key,), f"unknown key {key!r}{more}", at_key=True)


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def _typename(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty",
    }.get(type(value), type(value).__name__)
