"""Reading a LAVA YAML file (results export or job log): one ResultsError line on any failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devbench.config.yamlsrc import safe_load
from devbench.errors import ResultsError


def read_yaml(path: str | Path, what: str, *, decode_errors: str = "strict") -> tuple[Any, str]:
    """The parsed document and the file name for messages; `what` names the expected content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors=decode_errors)
    except FileNotFoundError:
        raise ResultsError(str(p), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(str(p), f"cannot read: {exc}") from None
    try:
        return safe_load(text), str(p)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ResultsError(str(p), f"not {what}: not valid YAML{where}") from None
