"""A fresh machine: the project's set-up, run in a clean Debian 12 root from nothing, is enough.

In a clean root (mmdebstrap --variant=apt of the host's suite: Essential packages and apt, no
python3, nothing of the project's) the project's own steps run: ``scripts/dev apt`` (its
package lists), then ``scripts/dev check-tools`` (the venv, then each tool's first real use:
devbench.toolcheck). A package missing from the lists fails a check that names it; the
negative test proves it by taking ``arch-test`` out of a copy's lists.

Measured on 2 cores (a kernel build running beside): both tests warm (base and apt layers
cached) 2 min 16 s (59 s + 76 s); with no devbench cache but the host's apt cache holding the
debs (as after ``scripts/dev test`` on the host) 2 min 53 s; the very first run on this machine
(146 MB of debs downloaded: packages the host image had preinstalled) ~6 min for the first test.
The apt layer is keyed by the package lists: changing them re-runs the apt step from the base.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.fresh import freshroot

pytestmark = [
    pytest.mark.fresh,
    pytest.mark.timeout(2400),
    pytest.mark.skipif(os.geteuid() != 0, reason="the fresh root needs root (mounts, namespaces)"),
    pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="needs mmdebstrap (scripts/dev apt)"),
]

CHECK_TOOLS = ["bash", f"{freshroot.PROJECT_IN_ROOT}/scripts/dev", "check-tools"]


def _report(what: str, run: freshroot.FreshRun) -> None:
    print(f"\nfresh machine{what}: check-tools took {run.seconds:.0f} s")
    for line in run.output.splitlines():
        if line.startswith(("ok ", "FAIL ", "      E:", "toolcheck:", "dev: ")):
            print("  " + line)


def _show(run: freshroot.FreshRun) -> str:
    return f"exit {run.rc} after {run.seconds:.0f} s; output's end:\n" + "\n".join(run.output.splitlines()[-60:])


def test_fresh_machine_sets_up_every_tool() -> None:
    run = freshroot.run_setup(CHECK_TOOLS)
    _report("", run)
    assert run.rc == 0, _show(run)
    assert "toolcheck: " in run.output and " checks passed" in run.output, _show(run)
    assert "FAIL" not in run.output, _show(run)


def test_fresh_machine_names_a_missing_package() -> None:
    """arch-test taken out of the lists: mmdebstrap's foreign-arch build fails, naming it."""
    run = freshroot.run_setup([*CHECK_TOOLS, "--only", "lab rootfs arm64"], drop=["arch-test"])
    _report(" without arch-test", run)
    assert run.rc != 0, _show(run)
    assert "not installed: arch-test" in run.output, _show(run)
    assert "install arch-test for foreign architecture support" in run.output, _show(run)
    assert "missing packages: arch-test" in run.output, _show(run)
