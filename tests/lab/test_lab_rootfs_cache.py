"""ensure_rootfs's cache logic with a fake mmdebstrap (fast; no network)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from devbench.cache import marker_path
from devbench.guest.rootfs import ADBD_PATH, cache_root
from devlab import LabError, ensure_rootfs, rootfs_path

FAKE_OK = f"""#!/bin/sh
# fake mmdebstrap: ... SUITE DIR MIRROR
for a; do :; done
eval "dir=\\${{$(($#-1))}}"
echo "I: fake build into $dir"
sleep 0.2
mkdir -p "$dir{os.path.dirname(ADBD_PATH)}" && touch "$dir{ADBD_PATH}"
echo built >> "$FAKE_COUNT"
"""

FAKE_FAIL = """#!/bin/sh
echo "E: cannot download trixie from $3"
echo "E: line two of the failure"
exit 3
"""

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="ensure_rootfs builds only as root")]


def _fake(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "mmdebstrap"
    exe.write_text(body)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    count = tmp_path / "count"
    monkeypatch.setenv("FAKE_COUNT", str(count))
    return count


def test_cache_path_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEVBENCH_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "lab"
    a = rootfs_path("amd64", packages=("adbd", "busybox"))
    assert a.parent == tmp_path / "lab" and a.name.startswith("rootfs-trixie-amd64-")
    assert rootfs_path("amd64", packages=("busybox", "adbd")) == a
    assert rootfs_path("amd64", packages=("adbd",)) != a
    assert rootfs_path("arm64", packages=("adbd", "busybox")) != a


def test_build_once_marker_and_lock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    count = _fake(tmp_path, FAKE_OK, monkeypatch)
    cache = tmp_path / "cache"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(
        ensure_rootfs(cache_dir=cache, packages=("adbd",), mirror="http://mirror.invalid/debian")))
        for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    root = results[0]
    assert (root / ADBD_PATH.lstrip("/")).exists()
    assert count.read_text().count("built") == 1  # the lock serialised the builders
    info = json.loads(marker_path(root).read_text())
    assert info["packages"] == ["adbd"] and info["mirror"] == "http://mirror.invalid/debian"
    assert "fake build" in root.with_name(root.name + ".log").read_text()
    assert not list(cache.glob("*.tmp-*"))
    # an incomplete leftover (no marker) is rebuilt
    marker_path(root).unlink()
    assert ensure_rootfs(cache_dir=cache, packages=("adbd",), mirror="http://mirror.invalid/debian") == root
    assert count.read_text().count("built") == 2


def test_build_failure_raises_with_log_tail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake(tmp_path, FAKE_FAIL, monkeypatch)
    cache = tmp_path / "cache"
    with pytest.raises(LabError) as ei:
        ensure_rootfs(cache_dir=cache, packages=("adbd",), mirror="http://mirror.invalid/debian")
    assert ei.value.step == "rootfs"
    assert "exit 3" in ei.value.detail and "line two of the failure" in ei.value.detail
    assert not [p for p in cache.iterdir() if p.is_dir()]  # temp dir removed, nothing half-built
