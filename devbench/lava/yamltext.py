"""YAML text for people to read and LAVA to load: block order kept, multi-line strings (the
device scripts in the test definition) as literal blocks. Only plain data is written: the
dumper is PyYAML's SafeDumper with one representer for str."""

from __future__ import annotations

from typing import Any

import yaml


class _BlockDumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # the emitter falls back to quotes where a block cannot hold it
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=False
    )
