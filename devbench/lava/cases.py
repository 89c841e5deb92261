"""LAVA's test results for a job, read and checked (pure but for reading the file).

Accepted shapes, YAML or JSON:
- a list of test cases, as `lavacli results JOB --yaml`, the web UI's "YAML" export and
  /results/JOB/yaml give it: {name, suite, result, measurement, unit, job, logged, metadata, ...}
  (lava_results_app.utils.export_testcase: every value a string, measurement "None" when unset);
- a REST API page, /api/v0.2/jobs/JOB/tests/: {count, results: [{name, result, measurement,
  unit, suite (an id), metadata (a YAML string), ...}]}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from devbench.config.yamlsrc import safe_load
from devbench.errors import ResultsError
from devbench.lava.markers import TESTDEF_NAME
from devbench.lava.yamlfile import read_yaml

RESULTS = ("pass", "fail", "skip", "unknown")
DEVBENCH_SUITE = re.compile(r"^\d+_" + re.escape(TESTDEF_NAME) + "$")


@dataclass(frozen=True)
class LavaCase:
    name: str
    suite: str  # "0_devbench", "lava", ...
    result: str  # pass, fail, skip, unknown
    measurement: float | None = None
    units: str | None = None
    job: str | None = None
    logged: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_devbench(self) -> bool:
        return bool(DEVBENCH_SUITE.match(self.suite))


def read_cases(path: str | Path) -> list[LavaCase]:
    data, file = read_yaml(path, "LAVA results")
    return parse_cases(data, file)


def parse_cases(data: Any, file: str = "<results>") -> list[LavaCase]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]  # a REST API page
    if not isinstance(data, list):
        raise ResultsError(file, "not LAVA results: expected a list of test cases (lavacli results JOB --yaml)")
    return [_case(item, i, file) for i, item in enumerate(data)]


def _case(item: Any, i: int, file: str) -> LavaCase:
    where = f"test case {i + 1}"
    if not isinstance(item, dict):
        raise ResultsError(file, f"not LAVA results: {where} is not a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ResultsError(file, f"{where} has no name")
    where = f"test case {i + 1} ({name})"
    metadata = item.get("metadata") or {}
    if isinstance(metadata, str):  # the REST API gives it as YAML text
        try:
            metadata = safe_load(metadata) or {}
        except yaml.YAMLError:
            raise ResultsError(file, f"{where}: metadata is not valid YAML") from None
    if not isinstance(metadata, dict):
        raise ResultsError(file, f"{where}: metadata must be a mapping")
    result = str(item.get("result", "")).lower()
    if result not in RESULTS:
        raise ResultsError(file, f"{where}: result must be one of {', '.join(RESULTS)} (got {item.get('result')!r})")
    suite = item.get("suite")
    if not isinstance(suite, str) or suite.isdigit():  # the REST API gives the suite's id
        suite = metadata.get("definition", suite)
    if not isinstance(suite, (str, int)) or isinstance(suite, bool):
        raise ResultsError(file, f"{where} has no suite")
    units = item.get("unit", item.get("units"))
    return LavaCase(
        name=name,
        suite=str(suite),
        result=result,
        measurement=_measurement(item.get("measurement"), where, file),
        units=None if units in (None, "", "None") else str(units),
        job=None if item.get("job") in (None, "") else str(item["job"]),
        logged=None if item.get("logged") in (None, "") else str(item["logged"]),
        metadata=metadata,
    )


def _measurement(value: Any, where: str, file: str) -> float | None:
    if value is None or value in ("", "None", "null"):
        return None
    if isinstance(value, bool):
        raise ResultsError(file, f"{where}: measurement must be a number (got {value!r})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ResultsError(file, f"{where}: measurement must be a number (got {value!r})") from None
    if not number.is_finite():
        raise ResultsError(file, f"{where}: measurement must be a finite number (got {value!r})")
    return float(number)
