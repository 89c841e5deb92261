"""Debian's stock kernel in QEMU: the honest negative case (no CONFIG_ANON_VMA_NAME).

Boots the host release's stock cloud kernel (downloaded with apt-get, cached) with devbench's
initramfs, and runs `devbench run` on it: the named arm is refused with
kernel-lacks-anon-vma-name, the unnamed samples are kept, exit code 1. Every QEMU is ended
by its recorded PID; the tests check that none is left.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from devbench.qemu import GuestImage, QemuMachine, QemuSpec
from devbench.qemu.stock import StockKernel, stock_kernel
from devlab import AdbServer, procs
from tests.lab import runs
from tests.lab.qemu_helpers import qemu_pids_mentioning

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(1800)]

FORKS, BATCHES, VMAS = 10, 2, 2048


@pytest.fixture(scope="session")
def stock(lab_usable: None) -> StockKernel:
    return stock_kernel("x86_64")  # CI fetches it from the machine's apt sources; a failure fails


def test_stock_kernel_cache_entry(stock: StockKernel) -> None:
    assert stock.kernel.is_file() and stock.initrd.is_file()
    assert stock.kernel.name == f"vmlinuz-{stock.version}"
    assert stock.package.startswith(f"linux-image-{stock.version}_")
    assert stock.version.endswith("-cloud-amd64")
    assert stock.config is not None and "# CONFIG_ANON_VMA_NAME is not set" in stock.config.read_text().splitlines()
    assert stock.kernel.parent.with_name(stock.kernel.parent.name + ".complete").is_file()
    assert stock_kernel("x86_64") == stock  # cached: same paths, no rebuild
    print(f"\n{stock.package}: initrd {stock.initrd.stat().st_size} bytes, modules {stock.info['modules']}")


def test_stock_kernel_boots_and_lacks_anon_vma_name(adb_server: AdbServer, stock: StockKernel,
                                                     x86_guest: GuestImage, run_dir: Path) -> None:
    spec = QemuSpec("x86_64", stock.kernel, x86_guest.image, memory_mb=2048, initrd=stock.initrd)
    with QemuMachine(spec, run_dir, "stock") as m:
        m.boot()
        print(f"\nstock x86_64 boot: {m.boot_seconds:.1f} s (total {m.total_boot_seconds:.1f} s, "
              f"{m.attempts} attempt(s)): {m.attempt_log}")
        console = m.console_log.read_text(errors="replace") if m.console_log else ""
        assert f"devbench-initramfs: {stock.version}: loading modules" in console
        dev = adb_server.connect(m.adb_serial, timeout=60)
        try:
            r = dev.shell2("uname -r", v2=True)
            assert (r.returncode, r.stdout.strip()) == (0, stock.version)
            # no IKCONFIG in Debian's kernels: /proc/config.gz is absent, the package's config says it
            r = dev.shell2("test -e /proc/config.gz", v2=True)
            assert r.returncode != 0
            r = dev.shell2("cat /proc/mounts; lsmod 2>/dev/null || cat /proc/modules", v2=True)
            assert r.returncode == 0
            assert any(ln.split()[:3] == ["/dev/vda", "/", "ext4"] for ln in r.stdout.splitlines()), r.stdout
            assert "virtio_net" in r.stdout and "virtio_blk" in r.stdout
            assert not any(ln.split()[1:2] == ["/newroot"] for ln in r.stdout.splitlines())
        finally:
            adb_server.client().disconnect(m.adb_serial)
        assert "# CONFIG_ANON_VMA_NAME is not set" in stock.config.read_text().splitlines()  # type: ignore[union-attr]
        pids = [m.pid, m.qemu_pid]
    assert m.pid is not None and all(p is not None and not procs.alive(p) for p in pids)
    assert qemu_pids_mentioning(str(run_dir)) == []


def test_devbench_run_on_stock_kernel_is_the_honest_negative(tmp_path: Path, adb_server: AdbServer,
                                                              stock: StockKernel, devbench_cmd: list[str]) -> None:
    out_dir = tmp_path / "out"
    cfg = tmp_path / "stock.yaml"
    cfg.write_text(f"""\
run: {{name: stock e2e, output: {out_dir}}}
targets:
  - {{name: stock, qemu: {{arch: x86_64, kernel: stock, memory_mb: 2048, server_port: {adb_server.port}}}}}
benchmark:
  vmas: {VMAS}
  forks: {FORKS}
  warmup: 1
  batches: {BATCHES}
  scenarios:
    - {{name: unpopulated, pages: 0}}
    - {{name: 1 page, pages: 1}}
""")
    try:
        res = runs.run([*devbench_cmd, "run", str(cfg), "--quiet"], capture_output=True, text=True,
                             timeout=1500)
    finally:
        left = qemu_pids_mentioning(str(out_dir))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, f"QEMU left behind: {left}"
    assert "Traceback" not in res.stderr, res.stderr
    [run_dir] = [p for p in out_dir.iterdir() if not p.is_symlink()]
    data = json.loads((run_dir / "results.json").read_text())
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert data["run"]["status"] == "failed"
    [t] = data["targets"]
    assert t["transport"] == "qemu" and t["facts"]["kernel_release"] == stock.version
    assert t["transport_info"]["kernel"] == str(stock.kernel)
    for sc in ("unpopulated", "1 page"):
        def samples(arm: str, sc: str = sc) -> list[int]:
            return [x for s in data["samples"] if (s["scenario"], s["arm"]) == (sc, arm) for x in s["fork_ns"]]
        assert len(samples("unnamed")) == FORKS
        assert samples("named") == []
        errs = [(e["kind"], e["arm"]) for e in data["errors"] if e["scenario"] == sc]
        assert errs == [("kernel-lacks-anon-vma-name", "named")]
    # the QEMU of the run: its console logs and command files are in the run folder, and
    # nothing that mentions the run folder is alive
    cmds = sorted(run_dir.rglob("qemu-stock-*.cmd"))
    assert cmds and "-initrd" in cmds[-1].read_text() and str(stock.initrd) in cmds[-1].read_text()
    assert qemu_pids_mentioning(str(run_dir)) == [] and qemu_pids_mentioning(str(out_dir)) == []
    assert "kernel-lacks-anon-vma-name" in (run_dir / "report.html").read_text()
