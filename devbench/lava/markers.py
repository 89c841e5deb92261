"""The vocabulary shared by the device script (sh/devbench-lava.sh) and the log parser (pure).

Every line the device script prints for devbench starts with one of these markers:

    DEVBENCH-RUN JSON            the run: target, config, the plan's invocations (from the job)
    DEVBENCH-PROBE LINE          one line of devbench.device.probe's PROBE_SCRIPT output
    DEVBENCH-CHANGE JSON         a device setting changed (vm.max_map_count), read back
    DEVBENCH-RESTORE JSON        that setting put back
    DEVBENCH-WARN TEXT           something the results should say (e.g. taskset missing)
    DEVBENCH-BEGIN I             payload invocation I starts
    DEVBENCH-LINE I LINE         one JSON Lines event of invocation I, as the payload printed it
    DEVBENCH-STDERR I TEXT       the payload's stderr (last lines)
    DEVBENCH-END I EXIT LINES    invocation I exited with EXIT after LINES stdout lines

LAVA test case names are `<scenario>.<arm>` with the scenario name made safe for LAVA; in a VMA
sweep `<scenario>-<N>vmas.<arm>`, one case per scenario and count.
"""

from __future__ import annotations

import re

SCHEMA = "devbench/lava/1"  # the DEVBENCH-RUN record's format
TESTDEF_NAME = "devbench"  # the test definition's name; LAVA's suite is "<index>_devbench"
PREFIX = "DEVBENCH-"
KINDS = ("RUN", "PROBE", "CHANGE", "RESTORE", "WARN", "BEGIN", "LINE", "STDERR", "END")
MARKER_RE = re.compile(r"DEVBENCH-(" + "|".join(KINDS) + r")(?: (.*))?$")
RESTORE_CASE = "devbench-restore"

# lava-test-case sends "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=name RESULT=...>", split on spaces and
# "=", and makes a folder of the name: keep to letters, digits and . _ -
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def case_slug(scenario: str) -> str:
    """The scenario's part of a LAVA test case name (devbench scenario names allow spaces)."""
    return _UNSAFE.sub("_", scenario)


def case_prefix(scenario: str, vmas: int | None, sweep: bool) -> str:
    """The test case name of a scenario (at one VMA count in a sweep), before ".<arm>"."""
    return case_slug(scenario) + (f"-{vmas}vmas" if sweep and vmas is not None else "")


def case_name(scenario: str, arm: str) -> str:
    return f"{case_slug(scenario)}.{arm}"


def split_case(name: str) -> tuple[str, str] | None:
    """(scenario slug, arm) of a devbench test case name, or None for another test case."""
    slug, dot, arm = name.rpartition(".")
    if not dot or not slug or arm not in ("unnamed", "named"):
        return None
    return slug, arm
