"""ensure_rootfs(arch="arm64") with a fake mmdebstrap (fast; no network): it runs in a private
user namespace with its own binfmt_misc; the amd64 build command is unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devbench.cache import marker_path
from devbench.guest.rootfs import ADBD_PATH
from devlab import ensure_rootfs
from devlab.emulated import emulation_usable, host_binfmt_entries, rootfs_arch

FAKE = f"""#!/bin/sh
# fake mmdebstrap: records how it was run. ... SUITE DIR MIRROR
for a; do :; done
eval "dir=\\${{$(($#-1))}}"
mkdir -p "$dir{os.path.dirname(ADBD_PATH)}" && touch "$dir{ADBD_PATH}"
{{
  echo "args $*"
  echo "userns $(readlink /proc/self/ns/user)"
  echo "uid_map $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
  echo "binfmt $(ls /proc/sys/fs/binfmt_misc | tr '\\n' ' ')"
  if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    echo "qemu $(tr '\\n' ' ' < /proc/sys/fs/binfmt_misc/qemu-aarch64)"
  fi
}} > "$FAKE_REPORT"
"""

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="ensure_rootfs builds only as root")]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "mmdebstrap"
    exe.write_text(FAKE)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    report = tmp_path / "report"
    monkeypatch.setenv("FAKE_REPORT", str(report))
    return report


def _report(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def test_arm64_build_runs_with_private_binfmt(fake: Path, tmp_path: Path) -> None:
    reason = emulation_usable("arm64")
    if reason:
        pytest.skip(reason)
    before = host_binfmt_entries()
    root = ensure_rootfs(arch="arm64", cache_dir=tmp_path / "cache", packages=("adbd",),
                         mirror="http://mirror.invalid/debian")
    rep = _report(fake)
    assert rep["args"] == ("--mode=root --variant=apt --architectures=arm64 --include=adbd trixie "
                           f"{rep['args'].split()[-2]} http://mirror.invalid/debian")
    assert rep["userns"] != os.readlink("/proc/self/ns/user")  # a user namespace of its own
    assert rep["uid_map"] == "0 0 4294967295"  # identity: files keep their real owners
    assert rep["binfmt"].split() == ["qemu-aarch64", "register", "status"]  # a fresh instance
    assert rep["qemu"].startswith("enabled interpreter /usr/bin/qemu-aarch64-static flags: PF ")
    assert host_binfmt_entries() == before
    assert json.loads(marker_path(root).read_text())["arch"] == "arm64"
    assert rootfs_arch(root) == "arm64"


def test_amd64_build_command_unchanged(fake: Path, tmp_path: Path) -> None:
    ensure_rootfs(arch="amd64", cache_dir=tmp_path / "cache", packages=("adbd", "busybox"),
                  mirror="http://mirror.invalid/debian")
    rep = _report(fake)
    assert rep["args"] == ("--variant=apt --architectures=amd64 --include=adbd,busybox trixie "
                           f"{rep['args'].split()[-2]} http://mirror.invalid/debian")
    assert rep["userns"] == os.readlink("/proc/self/ns/user")
    assert "qemu" not in rep
