"""The real guest kernel build (x86_64), from Debian's linux-source package.

Built once per machine and cached in the user's kernel cache (``$DEVBENCH_CACHE/kernels`` or
``~/.cache/devbench/kernels``); the first build takes about 5 minutes on 2 cores
(``python -m devbench.kernel build --arch x86_64`` warms it).
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

import pytest

from devbench.kernel import REQUIRED, KernelBuild, check_config, ensure_kernel, find_config, parse_config
from devbench.kernel.build import cache_root, find_source, is_complete, kernel_path

# The user's cache, taken at import: tests/conftest.py points DEVBENCH_CACHE at a private
# per-session folder for each test, and this build is too long to repeat per session.
USER_CACHE = cache_root()

pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def kernel() -> KernelBuild:
    try:
        find_source()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no kernel source: {e}")
    return ensure_kernel("x86_64", cache_dir=USER_CACHE)


@pytest.mark.qemu  # builds the kernel QEMU boots
def test_kernel_image_and_files(kernel: KernelBuild):
    assert kernel.arch == "x86_64"
    assert kernel.image.name == "bzImage" and kernel.image.is_file()
    head = kernel.image.read_bytes()[:0x210]
    assert head[0x202:0x206] == b"HdrS"  # x86 boot protocol header
    assert kernel.image.stat().st_size > 1 << 20
    assert kernel.config.is_file() and kernel.config.parent == kernel.image.parent
    assert kernel.system_map is not None and kernel.system_map.is_file()
    assert kernel.vmlinux is not None and kernel.vmlinux.read_bytes()[:4] == b"\x7fELF"
    assert kernel.version.startswith("6.") and kernel.version.endswith("-devbench")
    assert len(kernel.fragment_hash) == 12 and kernel.fragment_hash in kernel.image.parent.name
    assert kernel.image.parent == kernel_path("x86_64", USER_CACHE) and is_complete(kernel.image.parent)
    assert kernel.build_seconds > 0


@pytest.mark.qemu  # builds the kernel QEMU boots
def test_cached_call_is_immediate(kernel: KernelBuild):
    t0 = time.monotonic()
    again = ensure_kernel("x86_64", cache_dir=USER_CACHE)
    assert time.monotonic() - t0 < 5
    assert again == kernel


@pytest.mark.qemu  # builds the kernel QEMU boots
def test_saved_config_has_every_required_option(kernel: KernelBuild):
    cfg = parse_config(kernel.config.read_text())
    assert cfg["ANON_VMA_NAME"] == "y"
    assert {o.name: cfg.get(o.name) for o in REQUIRED["x86_64"]} == {o.name: "y" for o in REQUIRED["x86_64"]}
    assert cfg.get("MODULES", "n") == "n"
    assert check_config(cfg, "x86_64") == []


@pytest.mark.qemu  # builds the kernel QEMU boots
def test_find_config_reads_ikconfig_from_the_bzimage(kernel: KernelBuild):
    found = find_config(kernel.image)
    assert found is not None
    text, source = found
    assert source == f"IKCONFIG in {kernel.image}"  # not the config file beside it
    assert parse_config(text) == parse_config(kernel.config.read_text())
    assert check_config(parse_config(text), "x86_64") == []


def test_debian_stock_kernel_lacks_anon_vma_name():
    configs = sorted(glob.glob("/boot/config-*"))
    if not configs:
        pytest.skip("no /boot/config-* on this machine")
    cfg = parse_config(Path(configs[-1]).read_text())
    arch = "arm64" if cfg.get("ARM64") == "y" else "x86_64"
    findings = {f.option: f for f in check_config(cfg, arch)}
    assert "ANON_VMA_NAME" in findings, f"{configs[-1]} has ANON_VMA_NAME: not a stock Debian kernel?"
    assert findings["ANON_VMA_NAME"].why == "benchmark"
