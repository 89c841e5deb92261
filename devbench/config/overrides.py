"""`--set key.path=value`: a config value from the command line (as hyperfine's -r/-w).

Pure: an override is parsed into a field path and a YAML value, then written into the
loaded config's data before the config is checked, so it is checked exactly like the file;
an error in (or below) an overridden field names the override, not the file.

    benchmark.forks=200   benchmark.scenarios[0].pages=1   device.pin=[4,5]   targets[0].adb.serial=X

And the CLI's other overrides of a loaded config (with_overrides): --target, --output, --serial.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from devbench.config.model import Config, RunConfig, TargetConfig
from devbench.config.yamlsrc import FieldPath, Source, format_path, load_yaml
from devbench.errors import ConfigError
from devbench.targets.kinds.adb import AdbOptions, unnamed

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d{1,6}\])*)")


@dataclass(frozen=True)
class Override:
    text: str  # as given, for errors
    path: FieldPath
    value: Any


def _error(text: str, field: str, message: str) -> ConfigError:
    return ConfigError(f"--set {text}", None, None, field, message)


def parse_override(text: str) -> Override:
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise _error(text, "", "must be KEY.PATH=VALUE, e.g. benchmark.forks=200")
    path: list[str | int] = []
    for part in key.split("."):
        m = _SEGMENT.fullmatch(part)
        if m is None:
            raise _error(text, "", f"{key!r} is not a key path such as benchmark.forks or targets[0].adb.serial")
        path.append(m.group(1))
        path += [int(i) for i in re.findall(r"\d+", m.group(2))]
    if raw.strip() == "":
        raise _error(text, key, "needs a value after '='")
    try:
        value = load_yaml(raw, f"--set {text}").data  # YAML's safe scalars, lists and mappings, bounded as a config is
    except ConfigError as exc:
        raise _error(text, key, exc.message) from None
    return Override(text, tuple(path), value)


def apply_overrides(src: Source, texts: Iterable[str]) -> Source:
    """Write each override into src.data (in order; a later one wins) and remember it in
    src.overrides, so that Source.error names it."""
    for text in texts:
        o = parse_override(text)
        node: Any = src.data
        for i, part in enumerate(o.path[:-1]):
            here = format_path(o.path[: i + 1])
            nxt = o.path[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or not 0 <= part < len(node):
                    size = len(node) if isinstance(node, list) else 0
                    raise _error(text, here, f"no item {part} (the list has {size})")
                if node[part] is None:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise _error(text, format_path(o.path[:i]), "is not a mapping")
                if node.get(part) is None:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
        last = o.path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or not 0 <= last < len(node):
                raise _error(text, format_path(o.path), "no such list item")
        elif not isinstance(node, dict):
            raise _error(text, format_path(o.path[:-1]), "is not a mapping")
        node[last] = o.value
        for p in [
            p for p in src.marks if p[: len(o.path)] == o.path or p[1 : len(o.path) + 1] == o.path and p[0] == "@key"
        ]:
            del src.marks[p]  # positions of what the override replaced
        src.overrides[o.path] = text
    return src


def with_overrides(cfg: Config, *, targets: list[str] | None = None, output: str | None = None,
                   serial: str | None = None) -> Config:
    """Select targets by name, override the output folder, and give --serial to the adb target
    that names no device (from the CLI)."""
    chosen = cfg.targets
    if targets:
        names = {t.name for t in cfg.targets}
        for n in targets:
            if n not in names:
                raise ConfigError(
                    cfg.file, None, None, "targets", f"no target named {n!r} (have: {', '.join(sorted(names))})"
                )
        chosen = tuple(t for t in cfg.targets if t.name in targets)
    raw = cfg.raw
    if serial is not None:
        chosen = _with_serial(cfg.file, chosen, serial)
        raw = _raw_with_serial(
            raw, next(t for t in chosen if isinstance(t.options, AdbOptions) and t.options.serial == serial)
        )
    run = RunConfig(name=cfg.run.name, output=output) if output else cfg.run
    return replace(cfg, run=run, targets=chosen, raw=raw)


def _raw_with_serial(raw: dict[str, Any], target: TargetConfig) -> dict[str, Any]:
    """The recorded config names the device --serial chose, so that resume and restore find it."""
    import copy

    out = copy.deepcopy(raw)
    serial = target.options.serial if isinstance(target.options, AdbOptions) else None
    for item in out.get("targets") or []:
        if (
            isinstance(item, dict)
            and item.get("name") == target.name
            and isinstance(item.get("adb"), (dict, type(None)))
        ):
            item["adb"] = {**(item.get("adb") or {}), "serial": serial}
    return out


def unnamed_adb(t: TargetConfig) -> bool:
    """An adb target that names no device (adb: {}): --serial, $ANDROID_SERIAL or the only one attached."""
    return unnamed(t.options)


def _with_serial(file: str, targets: tuple[TargetConfig, ...], serial: str) -> tuple[TargetConfig, ...]:
    if not serial or not serial.isprintable() or len(serial) > 256:
        raise ConfigError(file, None, None, "--serial", f"must be a printable adb serial (got {serial!r})")
    open_ = [t for t in targets if unnamed_adb(t)]
    if len(open_) != 1:
        have = ", ".join(f"{t.name} ({t.kind})" for t in targets)
        why = f"the targets run have none: {have}" if not open_ else \
            f"{len(open_)} targets name none ({', '.join(t.name for t in open_)}): pick one with --target"
        raise ConfigError(file, None, None, "--serial", f"is for the one adb target that names no device "
                                                        f"(no serial:, connect: or select:); {why}")
    chosen = open_[0]
    assert isinstance(chosen.options, AdbOptions)
    with_serial = replace(chosen, options=replace(chosen.options, serial=serial))
    return tuple(with_serial if t is chosen else t for t in targets)
