"""LAVA's own schema validator on a generated job (Debian's lava-common: lava_common.schemas).

lava-common is a system package; devbench's venv does not see system packages, so the
validator runs in the system python (/usr/bin/python3) in a subprocess. The job goes in on
stdin; the script is fixed text.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGE = "lava-common"  # Debian package that provides lava_common.schemas

# strict=True: unknown keys anywhere are errors (as lava-server does on submission); then the
# test definitions of inline tests against the Lava-Test schema.
_SCRIPT = r"""
import json, sys
import yaml
from voluptuous import Invalid
from lava_common.schemas import validate
from lava_common.schemas.test.testdef import validate as validate_testdef

errors = []
try:
    job = yaml.safe_load(sys.stdin.read())
    validate(job, strict=True)
    for action in job.get("actions", []):
        for definition in (action.get("test") or {}).get("definitions", []):
            if definition.get("from") == "inline":
                validate_testdef(definition["repository"])
except Invalid as exc:
    errors.append(f"{exc.msg} at {'/'.join(str(p) for p in exc.path)}")
except yaml.YAMLError as exc:
    errors.append(f"not valid YAML: {exc}")
print(json.dumps(errors))
"""

_TESTDEF_SCRIPT = r"""
import json, sys
import yaml
from voluptuous import Invalid
from lava_common.schemas.test.testdef import validate
errors = []
try:
    validate(yaml.safe_load(sys.stdin.read()))
except Invalid as exc:
    errors.append(f"{exc.msg} at {'/'.join(str(p) for p in exc.path)}")
print(json.dumps(errors))
"""


class ValidatorMissing(RuntimeError):
    """The system python or lava-common is not installed."""


def validator_version(python: str = SYSTEM_PYTHON) -> str:
    """lava-common's version; raises ValidatorMissing with what to install."""
    if not Path(python).exists():
        raise ValidatorMissing(f"{python} not found (install python3 and {PACKAGE})")
    proc = subprocess.run([python, "-c", "import lava_common.schemas, lava_common.version as v; print(v.__version__)"],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ValidatorMissing(f"lava_common is not importable by {python}: apt-get install {PACKAGE}")
    return proc.stdout.strip()


def validate_job(job_yaml: str, python: str = SYSTEM_PYTHON) -> list[str]:
    """LAVA's complaints about a job definition ([] when it is valid)."""
    return _run(_SCRIPT, job_yaml, python)


def validate_testdef(testdef_yaml: str, python: str = SYSTEM_PYTHON) -> list[str]:
    """LAVA's complaints about a Lava-Test test definition ([] when it is valid)."""
    return _run(_TESTDEF_SCRIPT, testdef_yaml, python)


def _run(script: str, text: str, python: str) -> list[str]:
    validator_version(python)
    proc = subprocess.run([python, "-c", script], input=text, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValidatorMissing(f"LAVA's validator failed to run: {last}")
    return json.loads(proc.stdout)
