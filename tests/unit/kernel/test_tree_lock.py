"""ensure_tree holds the feature kernel's image lock while it builds: a feature-kernel build that
starts meanwhile waits for it and uses the image the tree's build filled in (one build, not two).
The kernel build itself is a stand-in (a fake _build_tree writing the files a build leaves); the
real build of a kept tree is tests/lab/test_kernel_variant.py."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pytest

from devbench.cache import building, is_complete, mark_complete
from devbench.kernel import variant as kv


@pytest.fixture
def fake_source(tmp_path: Path) -> Path:
    src = tmp_path / "linux-source-6.12.tar.xz"
    src.write_bytes(b"not really a tarball")
    return src


def _fake_tree_build(started: threading.Event, release: threading.Event, calls: list[str]):
    def build(root: Path, arch, src, progress, jobs, stall) -> None:
        calls.append(root.name)
        started.set()
        assert release.wait(10)
        obj = root / "src" / kv.OBJ_DIR
        image = obj / kv._ARCH[arch]["image"]
        image.parent.mkdir(parents=True)
        image.write_bytes(b"image")
        (obj / ".config").write_text("CONFIG_ANON_VMA_NAME=y\n")
        mark_complete(root, {"version": "6.12-test", "arch": arch, "hash": "h", "image": str(image.relative_to(root)),
                             "source": str(src), "base": ["allnoconfig"], "build_seconds": 1.0, "jobs": 1,
                             "disk_bytes": 1, "built_at": 0.0})
    return build


def test_a_build_started_during_the_tree_build_waits_and_finds_the_image(tmp_path, fake_source, monkeypatch):
    started, release, calls = threading.Event(), threading.Event(), []
    monkeypatch.setattr(kv, "_build_tree", _fake_tree_build(started, release, calls))
    cache = tmp_path / "cache"
    tree = threading.Thread(target=kv.ensure_tree, args=("x86_64",), kwargs={"cache_dir": cache, "source": fake_source})
    tree.start()
    assert started.wait(10)
    image_root = kv.kernel_path("x86_64", cache, fake_source)
    lock = image_root.with_name(image_root.name + ".lock")
    with open(lock, "a") as f:  # what ensure_kernel's building() would find: the image entry is locked
        with pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(_needs_build(image_root)))
    waiter.start()
    time.sleep(0.3)
    assert not got  # still waiting for the tree's build
    release.set()
    tree.join(10)
    waiter.join(10)
    assert got == [False]  # the image came from the tree's build: nothing left to build
    assert is_complete(image_root) and (image_root / "bzImage").read_bytes() == b"image"
    assert calls == [kv.tree_path("x86_64", cache, fake_source).name]


def test_a_cached_tree_and_image_take_no_lock(tmp_path, fake_source, monkeypatch):
    started, release, calls = threading.Event(), threading.Event(), []
    release.set()
    monkeypatch.setattr(kv, "_build_tree", _fake_tree_build(started, release, calls))
    cache = tmp_path / "cache"
    kv.ensure_tree("x86_64", cache_dir=cache, source=fake_source)
    image_root = kv.kernel_path("x86_64", cache, fake_source)
    with open(image_root.with_name(image_root.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # someone holds the lock: a complete cache is used anyway
        assert kv.ensure_tree("x86_64", cache_dir=cache, source=fake_source) == kv.tree_path("x86_64", cache,
                                                                                              fake_source)
    assert len(calls) == 1


def _needs_build(entry: Path) -> bool:
    with building(entry) as needed:
        return needed
