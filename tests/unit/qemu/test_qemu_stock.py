"""Pure parts of the stock-kernel support: modules.dep resolution, the initramfs archive, the
QEMU command line with an initrd, and `kernel: stock` in configs and targets."""

from __future__ import annotations

import gzip
import stat
import subprocess
from pathlib import Path

import pytest

from devbench.config import parse_text
from devbench.errors import TargetError
from devbench.qemu import QemuSpec, qemu_command
from devbench.qemu.errors import QemuError
from devbench.qemu.machine import kernel_args
from devbench.qemu.stock import cpio_newc, init_script, load_order, module_name, parse_modules_dep, resolve_package
from devbench.targets.qemu import resolve_boot

# the shape of a real modules.dep (Debian 6.1 generic amd64); full closures, deepest last
DEP = """\
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
"""  # noqa: E501 (data, kept as it is)
WANTED = ("virtio_pci", "virtio_blk", "virtio_net", "ext4")


def _names(order: list[str]) -> list[str]:
    return [module_name(p) for p in order]


def test_module_names() -> None:
    assert module_name("kernel/drivers/char/hw_random/virtio-rng.ko.xz") == "virtio_rng"
    assert module_name("kernel/fs/ext4/ext4.ko") == "ext4"
    assert module_name("virtio_blk.ko.zst") == "virtio_blk"
    assert module_name("virtio_pci") == "virtio_pci"


def test_parse_modules_dep() -> None:
    deps = parse_modules_dep(DEP)
    assert deps["ext4"] == ("kernel/fs/ext4/ext4.ko", ["kernel/lib/crc16.ko", "kernel/fs/mbcache.ko",
                                                       "kernel/fs/jbd2/jbd2.ko"])
    assert deps["virtio_rng"][0].endswith("virtio-rng.ko.xz")
    assert deps["jbd2"] == ("kernel/fs/jbd2/jbd2.ko", [])


def test_load_order_puts_dependencies_first_each_once() -> None:
    names = _names(load_order(DEP, WANTED, ("crc32c_generic", "tcp_diag")))
    assert len(names) == len(set(names))
    assert set(names) == {"virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
                          "virtio_blk", "failover", "net_failover", "virtio_net", "crc16", "mbcache", "jbd2", "ext4",
                          "crc32c_generic"}  # tcp_diag: optional and absent
    deps = parse_modules_dep(DEP)
    for name in names:
        for d in deps[name][1]:
            assert names.index(module_name(d)) < names.index(name), (d, name)
    # the modules.dep order (deepest last) reversed: the same as a real modprobe
    assert names[:5] == ["virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci"]
    assert names.index("failover") < names.index("net_failover") < names.index("virtio_net")


def test_load_order_skips_builtins() -> None:
    builtin = ["kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko", "kernel/lib/crc16.ko"]
    names = _names(load_order(DEP, WANTED, (), builtin))
    assert not {"ext4", "jbd2", "mbcache", "crc16"} & set(names)
    assert "virtio_blk" in names
    # a wanted built-in module that modules.dep does not list is fine
    assert _names(load_order("kernel/fs/jbd2/jbd2.ko:\n", ["ext4"], (), ["kernel/fs/ext4/ext4.ko"])) == []


def test_load_order_refuses_missing_modules() -> None:
    with pytest.raises(QemuError, match="virtio_scsi is neither in modules.dep nor built in"):
        load_order(DEP, ["virtio_scsi"])
    with pytest.raises(QemuError, match="needs nope"):
        load_order("a.ko: nope.ko\n", ["a"])
    with pytest.raises(QemuError, match="cycle"):
        load_order("a.ko: b.ko\nb.ko: a.ko\n", ["a"])


def test_cpio_newc_is_read_by_cpio(tmp_path: Path) -> None:
    if subprocess.run(["sh", "-c", "command -v cpio"], capture_output=True).returncode != 0:
        pytest.skip("cpio not installed")
    data = cpio_newc([("bin", stat.S_IFDIR | 0o755, b"", 0),
                      ("bin/busybox", stat.S_IFREG | 0o755, b"#!x\n", 0),
                      ("bin/sh", stat.S_IFLNK | 0o777, b"busybox", 0),
                      ("dev", stat.S_IFDIR | 0o755, b"", 0),
                      ("dev/console", stat.S_IFCHR | 0o600, b"", (5 << 8) | 1),
                      ("init", stat.S_IFREG | 0o755, b"hello\n", 0)])
    assert len(data) % 4 == 0
    arc = tmp_path / "a.cpio.gz"
    arc.write_bytes(gzip.compress(data))
    out = subprocess.run(f"zcat {arc} | cpio -itv --quiet", shell=True, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[-1] if "->" not in ln else ln.split()[-3] for ln in lines] == [
        "bin", "bin/busybox", "bin/sh", "dev", "dev/console", "init"]
    assert lines[4].startswith("crw-------") and "5," in lines[4] and "root" in lines[4]
    assert lines[2].startswith("lrwxrwxrwx") and lines[2].endswith("bin/sh -> busybox")
    ext = tmp_path / "x"
    ext.mkdir()
    out = subprocess.run(f"zcat {arc} | cpio -id --quiet --no-absolute-filenames --nonmatching 'dev/*'", shell=True,
                         cwd=ext, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (ext / "init").read_text() == "hello\n"


def test_init_script_switches_to_the_guest_init() -> None:
    s = init_script()
    assert s.startswith("#!/bin/busybox sh\n")
    assert "exec switch_root /newroot /sbin/devbench-guest-init" in s
    assert "mount -t devtmpfs" in s and "/dev/vda" in s and "DEVBENCH-GUEST-FAILED: initramfs:" in s


K = Path("/k/vmlinuz-6.1.0-56-cloud-amd64")
IMG = Path("/c/rootfs.ext4")
RD = Path("/k/initrd.img")


def _opt(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd[:-1]) if a == flag]


def _cmd(spec: QemuSpec) -> list[str]:
    return qemu_command(spec, adb_port=40001, ssh_port=40002, console_log=Path("/run/d/console-g-1.log"))


def test_qemu_command_with_initrd() -> None:
    cmd = _cmd(QemuSpec("x86_64", K, IMG, initrd=RD, append="foo=1"))
    assert _opt(cmd, "-initrd") == [str(RD)]
    assert cmd.index("-initrd") == cmd.index("-kernel") + 2
    (append,) = _opt(cmd, "-append")
    args = append.split()
    assert "rdinit=/init" in args and "console=ttyS0" in args and "panic=-1" in args
    assert not any(a.startswith(("init=", "root=")) for a in args)
    assert args[-1] == "foo=1"
    (drive,) = _opt(cmd, "-drive")
    assert f"file={IMG}" in drive.split(",") and "snapshot=on" in drive.split(",")


def test_qemu_command_without_initrd_is_unchanged() -> None:
    spec = QemuSpec("x86_64", K, IMG)
    assert spec.initrd is None
    cmd = _cmd(spec)
    assert "-initrd" not in cmd
    assert kernel_args(spec) == ("console=ttyS0 root=/dev/vda rw rootfstype=ext4 panic=-1 oops=panic "
                                 "init=/sbin/devbench-guest-init quiet")
    # positional construction as before (initrd is the last field)
    assert QemuSpec("x86_64", K, IMG, 2048, 2, "tcg", "", 180.0, 2, 7200.0).initrd is None


def test_config_accepts_kernel_stock() -> None:
    cfg = parse_text(
        "targets:\n  - {name: s, qemu: {arch: x86_64, kernel: stock}}\nbenchmark: {vmas: 16, scenarios: [{name: "
        "a, pages: 0}]}\n"
    )
    assert cfg.targets[0].options.kernel == "stock"  # type: ignore[union-attr]


def test_stock_on_arm64_is_refused_clearly() -> None:
    cfg = parse_text(
        "targets:\n  - {name: s, qemu: {arch: arm64, kernel: stock}}\nbenchmark: {vmas: 16, scenarios: [{name: "
        "a, pages: 0}]}\n"
    )
    with pytest.raises(TargetError, match="stock is available for x86_64 only, not arm64"):
        resolve_boot("s", cfg.targets[0].options, lambda text: None)  # type: ignore[arg-type]
    with pytest.raises(QemuError, match="x86_64 only"):
        resolve_package("arm64")


def test_apt_failures_name_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from devbench.qemu import stock

    def no_such(cmd, **kw):  # type: ignore[no-untyped-def]
        return subprocess.CompletedProcess(cmd, 0 if cmd[1] == "depends" else 100, "", "")

    monkeypatch.setattr(stock, "_run", no_such)
    with pytest.raises(QemuError, match="apt does not know package linux-image-cloud-amd64"):
        stock.stock_kernel("x86_64", cache_dir=tmp_path)

    def download_fails(cmd, **kw):  # type: ignore[no-untyped-def]
        return subprocess.CompletedProcess(cmd, 100, "", "E: Can't select candidate version for linux-image-x\n")

    monkeypatch.setattr(stock, "_run", download_fails)
    with pytest.raises(QemuError, match=r"apt-get download linux-image-x failed \(exit 100\): E: Can't select"):
        stock._download(["linux-image-x"], tmp_path)
