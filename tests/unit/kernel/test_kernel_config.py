"""Kernel config fragment, parsing, IKCONFIG extraction and checking (pure, fast)."""

from __future__ import annotations

import gzip
import json
import lzma
import os
from pathlib import Path

import pytest

from devbench.kernel import (
    ARCHES,
    REQUIRED,
    KernelError,
    check_config,
    extract_ikconfig,
    find_config,
    fragment_text,
    guess_arch,
    parse_config,
)
from devbench.kernel import build as kbuild
from devbench.kernel.__main__ import main as kernel_main

SAMPLE = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_X86_64=y
CONFIG_HZ=250
CONFIG_LOCALVERSION="-devbench \\"q\\""
CONFIG_VIRTIO_NET=m
# CONFIG_ANON_VMA_NAME is not set
CONFIG_CMDLINE=""
# a comment
CONFIG_HZ=1000
"""


def full_config(arch: str, **override: str) -> dict[str, str]:
    cfg = {o.name: "y" for o in REQUIRED[arch]}
    cfg.update(override)
    return cfg


def fake_image(config_text: str, pad: int = 4096) -> bytes:
    """Bytes laid out like a vmlinux/Image: code, IKCFG_ST, gzipped config, IKCFG_ED, more code.
    The "code" compresses (as real code does), so a compressed image does not show the markers."""
    code = (b"\x55\x48\x89\xe5" + bytes(range(60))) * (pad // 64)
    return code + b"IKCFG_ST" + gzip.compress(config_text.encode()) + b"IKCFG_ED" + code


# ---- parse_config


def test_parse_config_values():
    cfg = parse_config(SAMPLE)
    assert cfg["X86_64"] == "y"
    assert cfg["VIRTIO_NET"] == "m"
    assert cfg["ANON_VMA_NAME"] == "n"
    assert cfg["HZ"] == "1000"  # later lines win
    assert cfg["LOCALVERSION"] == '-devbench "q"'
    assert cfg["CMDLINE"] == ""
    assert "a" not in cfg and len(cfg) == 6
    assert guess_arch(cfg) == "x86_64"
    assert guess_arch({"ARM64": "y"}) == "arm64" and guess_arch({}) is None


# ---- fragment


@pytest.mark.parametrize("arch", ARCHES)
def test_fragment_holds_every_required_option_with_a_reason(arch):
    text = fragment_text(arch)
    lines = text.splitlines()
    for o in REQUIRED[arch]:
        i = lines.index(f"CONFIG_{o.name}=y")
        assert lines[i - 1].startswith("# ") and len(lines[i - 1]) > 4, o.name  # the why
    assert "# CONFIG_MODULES is not set" in lines
    # the fragment parses back to what is required
    cfg = parse_config(text)
    assert check_config(cfg, arch) == []
    assert parse_config(fragment_text(arch, build=False)).keys() == {o.name for o in REQUIRED[arch]}


def test_required_options_per_arch():
    x86 = {o.name for o in REQUIRED["x86_64"]}
    arm = {o.name for o in REQUIRED["arm64"]}
    common = {"ANON_VMA_NAME", "PERF_EVENTS", "KALLSYMS", "KALLSYMS_ALL", "IKCONFIG", "IKCONFIG_PROC",
              "VIRTIO_PCI", "VIRTIO_BLK", "VIRTIO_NET", "EXT4_FS", "DEVTMPFS_MOUNT", "UNIX", "INET",
              "UNIX98_PTYS", "TMPFS", "EPOLL", "SIGNALFD", "TIMERFD", "EVENTFD", "FUTEX", "SECCOMP"}
    assert common <= x86 and common <= arm
    assert {"SERIAL_8250", "SERIAL_8250_CONSOLE"} <= x86
    assert {"SERIAL_AMBA_PL011", "SERIAL_AMBA_PL011_CONSOLE", "VIRTIO_MMIO", "PCI_HOST_GENERIC"} <= arm
    assert "SERIAL_AMBA_PL011" not in x86 and "SERIAL_8250" not in arm
    assert "MODULES" not in x86  # a build setting, not a requirement
    whys = {o.name: o.why for o in REQUIRED["x86_64"]}
    assert whys["ANON_VMA_NAME"] == "benchmark" and whys["PERF_EVENTS"] == "perf" and whys["VIRTIO_BLK"] == "boot"


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError):
        fragment_text("riscv64")  # type: ignore[arg-type]


# ---- check_config


def test_check_config_complete_is_empty():
    for arch in ARCHES:
        assert check_config(full_config(arch), arch) == []


def test_missing_anon_vma_name_is_a_benchmark_finding():
    cfg = full_config("x86_64", ANON_VMA_NAME="n")
    [f] = check_config(cfg, "x86_64")
    assert (f.option, f.wanted, f.found, f.why) == ("ANON_VMA_NAME", "y", "n", "benchmark")
    assert "missing for the benchmark" in str(f)


def test_missing_virtio_blk_is_a_boot_finding():
    cfg = full_config("arm64")
    del cfg["VIRTIO_BLK"]  # absent altogether
    cfg["VIRTIO_NET"] = "m"  # a module is not enough: devbench boots without an initramfs of modules
    findings = {f.option: f for f in check_config(cfg, "arm64")}
    assert findings.keys() == {"VIRTIO_BLK", "VIRTIO_NET"}
    assert findings["VIRTIO_BLK"].why == "boot" and findings["VIRTIO_BLK"].found is None
    assert findings["VIRTIO_NET"].found == "m"
    assert "boot in devbench's QEMU" in str(findings["VIRTIO_BLK"])


def test_missing_kallsyms_is_a_perf_finding():
    [f] = check_config(full_config("x86_64", KALLSYMS_ALL="n"), "x86_64")
    assert f.why == "perf"


# ---- IKCONFIG extraction


def test_extract_ikconfig_plain():
    assert extract_ikconfig(fake_image(SAMPLE)) == SAMPLE
    assert extract_ikconfig(os.urandom(10000)) is None
    assert extract_ikconfig(b"") is None


def test_extract_ikconfig_skips_a_stray_marker():
    blob = b"tool mentions IKCFG_ST here" + fake_image(SAMPLE)
    assert extract_ikconfig(blob) == SAMPLE


def test_extract_ikconfig_in_gzip_payload():
    """A bzImage/Image.gz: a stub, then the gzip-compressed vmlinux holding the markers."""
    stub = os.urandom(2048).replace(b"\x1f\x8b", b"\x00\x00")
    blob = stub + gzip.compress(fake_image(SAMPLE)) + b"\x00" * 64  # trailer after the stream
    assert b"IKCFG_ST" not in blob
    assert extract_ikconfig(blob) == SAMPLE
    assert extract_ikconfig(gzip.compress(fake_image(SAMPLE))) == SAMPLE  # Image.gz: stream at offset 0


def test_extract_ikconfig_in_xz_payload():
    stub = os.urandom(1024).replace(b"\xfd7zXZ", b"\x00" * 5)
    blob = stub + lzma.compress(fake_image(SAMPLE), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    assert extract_ikconfig(blob) == SAMPLE


def test_extract_ikconfig_notes_skipped_zstd(monkeypatch):
    from devbench.kernel import kconfig

    monkeypatch.setattr(kconfig, "zstd_available", lambda: False)
    notes: list[str] = []
    assert extract_ikconfig(b"\x00" * 100 + b"\x28\xb5\x2f\xfd" + os.urandom(200), notes) is None
    assert any("zstandard" in n for n in notes)


# ---- find_config


def test_find_config_prefers_ikconfig(tmp_path: Path):
    img = tmp_path / "bzImage"
    img.write_bytes(fake_image(SAMPLE))
    (tmp_path / ".config").write_text("CONFIG_OTHER=y\n")
    assert find_config(img) == (SAMPLE, f"IKCONFIG in {img}")


def test_find_config_in_a_kernel_tree(tmp_path: Path):
    boot = tmp_path / "arch" / "x86" / "boot"
    boot.mkdir(parents=True)
    img = boot / "bzImage"
    img.write_bytes(os.urandom(5000))
    (tmp_path / ".config").write_text(SAMPLE)
    assert find_config(img) == (SAMPLE, str(tmp_path / ".config"))


def test_find_config_debian_boot_layout(tmp_path: Path):
    img = tmp_path / "vmlinuz-6.1.0-28-amd64"
    img.write_bytes(os.urandom(5000))
    (tmp_path / "config-6.1.0-99-amd64").write_text("CONFIG_WRONG=y\n")
    (tmp_path / "config-6.1.0-28-amd64").write_text(SAMPLE)
    assert find_config(img) == (SAMPLE, str(tmp_path / "config-6.1.0-28-amd64"))
    assert find_config(tmp_path / "missing") is None


def test_find_config_of_a_config_file(tmp_path: Path):
    plain = tmp_path / ".config"
    plain.write_text(SAMPLE)
    assert find_config(plain) == (SAMPLE, str(plain))
    gz = tmp_path / "config.gz"  # /proc/config.gz
    gz.write_bytes(gzip.compress(SAMPLE.encode()))
    assert find_config(gz) == (SAMPLE, str(gz))


# ---- build helpers that need no compiler


def test_missing_source_names_the_apt_package(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(kbuild, "SOURCE_DIR", tmp_path)
    with pytest.raises(KernelError) as e:
        kbuild.find_source()
    assert e.value.step == "source" and "apt-get install linux-source" in str(e.value)


def test_newest_source_and_cache_name(tmp_path: Path, monkeypatch):
    for v in ("6.1", "6.12", "6.9"):
        (tmp_path / f"linux-source-{v}.tar.xz").write_bytes(b"x")
    monkeypatch.setattr(kbuild, "SOURCE_DIR", tmp_path)
    assert kbuild.find_source().name == "linux-source-6.12.tar.xz"
    monkeypatch.setenv("DEVBENCH_CACHE", str(tmp_path / "c"))
    p = kbuild.kernel_path("arm64")
    assert p.parent == tmp_path / "c" / "kernels"
    assert p.name.startswith("linux-6.12-arm64-") and len(p.name.rsplit("-", 1)[1]) == 12
    assert kbuild.kernel_path("x86_64").name != p.name.replace("arm64", "x86_64")  # hash differs per arch


def test_cli_fragment_and_check(tmp_path: Path, capsys):
    assert kernel_main(["fragment", "--arch", "arm64"]) == 0
    assert "CONFIG_SERIAL_AMBA_PL011=y" in capsys.readouterr().out
    good = tmp_path / "good"
    good.write_bytes(fake_image("\n".join(f"CONFIG_{k}=y" for k in full_config("x86_64")) + "\nCONFIG_X86_64=y\n"))
    assert kernel_main(["check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "config-6.1.0-28-amd64"
    bad.write_text("CONFIG_X86_64=y\n# CONFIG_ANON_VMA_NAME is not set\n")
    assert kernel_main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "CONFIG_ANON_VMA_NAME: wanted y, found n: missing for the benchmark" in out
    (tmp_path / "empty").mkdir()
    assert kernel_main(["check", str(tmp_path / "empty" / "nothing")]) == 2


def _fake_source(tmp_path: Path, monkeypatch, content: bytes = b"not a tarball") -> Path:
    src = tmp_path / "src" / "linux-source-6.12.tar.xz"
    src.parent.mkdir()
    src.write_bytes(content)
    monkeypatch.setattr(kbuild, "SOURCE_DIR", src.parent)
    return src


def test_complete_cache_entry_is_returned_without_building(tmp_path: Path, monkeypatch):
    _fake_source(tmp_path, monkeypatch)
    root = kbuild.kernel_path("x86_64", tmp_path / "cache")
    root.mkdir(parents=True)
    for name in ("bzImage", "config", "System.map"):
        (root / name).write_text(name)
    kbuild.marker_path(root).write_text(json.dumps({
        "version": "6.12.1-devbench", "arch": "x86_64", "hash": "abc", "image": "bzImage", "build_seconds": 1.5}))
    monkeypatch.setattr(kbuild, "_build", lambda *a: pytest.fail("rebuilt a complete kernel"))
    k = kbuild.ensure_kernel("x86_64", cache_dir=tmp_path / "cache")
    assert (k.image, k.config, k.version, k.system_map, k.vmlinux) == (
        root / "bzImage", root / "config", "6.12.1-devbench", root / "System.map", None)


def test_failed_build_raises_with_log_tail_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    _fake_source(tmp_path, monkeypatch)
    try:
        kbuild._check_tools("x86_64")
    except KernelError as e:
        pytest.skip(f"build tools missing: {e}")
    lines: list[str] = []
    with pytest.raises(KernelError) as e:
        kbuild.ensure_kernel("x86_64", cache_dir=tmp_path / "cache", progress=lines.append)
    assert e.value.step == "unpack" and e.value.log and "tar" in e.value.detail
    assert lines == ["kernel: unpacking linux-source-6.12.tar.xz"]
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())  # cache_dir holds the entries
    assert [n.rsplit(".", 1)[1] for n in left] == ["lock", "log"]  # no result, no marker, no temp dir
