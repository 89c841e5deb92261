"""A fresh machine: the project's set-up, run in a clean Debian 12 root from nothing, is enough.

In a clean root (mmdebstrap --variant=apt of the host's suite: Essential packages and apt, no
python3, nothing of the project's) the project's own steps run: ``scripts/dev apt`` (its
package lists), then ``scripts/dev check-tools`` (the venv, then each tool's first real use:
devlab.toolcheck). A package missing from the lists fails a check that names it; the
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


# A user, not root: without sudo each command says in one line what needs root; with sudo the
# apt step goes through it. Users are written into /etc/passwd by hand (the clean root has no
# useradd), commands run as them with setpriv (util-linux, Essential).
AS_USER = r"""
set -u
as() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups env HOME="/home/u$u" "$@"; }
for u in 1001 1002; do
  echo "u$u:x:$u:$u::/home/u$u:/bin/bash" >> /etc/passwd; echo "u$u:x:$u:" >> /etc/group
  echo "u$u:*:19000:0:99999:7:::" >> /etc/shadow   # PAM's account check (sudo) needs an entry
  mkdir -p "/home/u$u"; cp -a /root/devbench "/home/u$u/devbench"; chown -R "$u:$u" "/home/u$u"
done
dpkg -r --force-depends bc >/dev/null 2>&1    # a listed package goes missing
echo "== no sudo: apt"
( cd /home/u1001/devbench && as 1001 bash scripts/dev apt ); echo "== exit $?"
echo "== no sudo: test"
( cd /home/u1001/devbench && as 1001 bash scripts/dev test ); echo "== exit $?"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo >/dev/null || exit 3
echo "127.0.1.1 $(hostname)" >> /etc/hosts   # sudo looks its host up
echo 'u1002 ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/u1002; chmod 0440 /etc/sudoers.d/u1002
echo "== sudo: apt"
( cd /home/u1002/devbench && as 1002 bash scripts/dev apt ); echo "== exit $?"
dpkg-query -W -f='== bc ${Status}\n' bc
"""


def test_fresh_machine_as_a_user_with_and_without_sudo() -> None:
    run = freshroot.run_setup(["bash", "-c", AS_USER], timeout=600)
    out = run.output
    assert run.rc == 0, _show(run)

    def section(name: str) -> str:
        return out.split(f"== {name}\n", 1)[1].split("== exit", 1)[0]

    assert "need root for: apt-get update -q (run as root, or install sudo)" in section("no sudo: apt"), _show(run)
    assert "== exit 1\n== no sudo: test" in out, _show(run)
    assert "need root for: scripts/dev test (the lab's network namespaces)" in section("no sudo: test"), _show(run)
    assert "installing Debian packages: bc" in section("sudo: apt"), _show(run)
    assert "== exit 0\n== bc install ok installed" in out, _show(run)
