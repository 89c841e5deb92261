"""The real-clock noise knobs on real guests (issue 14, item 3): one devbench guest booted with
`machine: pc`, `daemons: [adbd]` and `detach: true`, driven over adb, and the minimal
initramfs guest running the real payload. Each boot takes a few seconds (TCG, one vCPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devbench.config import BuildConfig, QemuOptions

pytestmark = [pytest.mark.qemu, pytest.mark.lab, pytest.mark.timeout(900)]

# the names of a shell's ancestors, itself first, up to (not including) pid 1
ANCESTRY = 'p=$$; while [ "$p" -gt 1 ]; do cat /proc/$p/comm; set -- $(cat /proc/$p/stat); p=$4; done'
PROCESSES = 'for f in /proc/[0-9]*/comm; do cat "$f"; done 2>/dev/null; exit 0'


def test_pc_guest_without_sshd_runs_the_payload_detached_from_adb(lab_usable, adb_server, run_dir: Path) -> None:
    from devbench.targets.qemu import QemuTarget

    opts = QemuOptions(arch="x86_64", kernel="feature", memory_mb=1024, cpus=1, accel="tcg", clock="real",
                       machine="pc", daemons=("adbd",), detach=True, server_port=adb_server.port,
                       workdir="/data/local/tmp/devbench-knobs")
    target = QemuTarget("knobs", opts, run_dir)
    try:
        [cmd] = run_dir.glob("qemu-knobs-*.cmd")
        argv = cmd.read_text().split()
        assert argv[argv.index("-M") + 1] == "pc"
        assert not any(":22" in a for a in argv if "hostfwd" in a)  # no SSH port forwarded
        assert "devbench.daemons=adbd" in target.run(["cat", "/proc/cmdline"]).stdout.split()
        # the host bridge: i440FX (8086:1237) is -M pc, Q35's is 8086:29c0
        bridge = target.run(
            ["cat", "/sys/bus/pci/devices/0000:00:00.0/vendor", "/sys/bus/pci/devices/0000:00:00.0/device"]
        )
        assert bridge.stdout.split() == ["0x8086", "0x1237"]
        procs = target.run(["sh", "-c", PROCESSES]).stdout.split()
        assert "adbd" in procs and "sshd" not in procs
        assert "sshd pid none" in Path(target.machine.console_log).read_text()
        info = target.info
        assert (info["machine"], info["daemons"], info["payload_session"], info["ssh_port"]) == \
            ("pc", "adbd", "detached", None)
        assert all(v is None or isinstance(v, (str, int, float)) for v in info.values())  # results.json's shape

        attached = target.run(["sh", "-c", ANCESTRY]).stdout.split()
        assert "adbd" in attached  # an adb shell's command descends from adbd
        lines: list[str] = []
        assert target.run(["mkdir", "-p", opts.workdir]).ok
        res = target.run_payload(["sh", "-c", ANCESTRY], timeout=120, on_line=lines.append)
        assert res.exit_code == 0 and lines == res.stdout.split()
        assert lines[0] == "sh" and "adbd" not in lines  # detached: reparented to init, not adbd's
        left = target.run(["sh", "-c", f'ls {opts.workdir}; exit 0']).stdout.split()
        assert not [f for f in left if f.startswith("detached-")]  # output files collected and removed
        failed = target.run_payload(["sh", "-c", "echo partial; exit 5"], timeout=60)
        assert (failed.exit_code, failed.stdout) == (5, "partial\n")
        # lines reach the host while the command still runs (collected between the idle waits)
        import time

        from devbench.targets.detached import run_detached

        seen: list[tuple[str, float]] = []
        t0 = time.monotonic()
        res = run_detached(target, ["sh", "-c", "echo first; sleep 4; echo second"], workdir=opts.workdir,
                           timeout=60, collect_s=1, on_line=lambda line: seen.append((line, time.monotonic() - t0)))
        assert [line for line, _ in seen] == ["first", "second"] and res.exit_code == 0
        assert seen[1][1] - seen[0][1] > 2  # "first" came before the command ended
    finally:
        target.close()


def test_minimal_guest_runs_the_payload_and_prints_its_events(lab_usable, run_dir: Path) -> None:
    from devbench.kernel.build import ensure_kernel
    from devbench.payload.build import build
    from devbench.qemu.machine import QemuSpec
    from devbench.qemu.minimal import busybox_static, init_script, initramfs, run_minimal

    payload = build("x86_64", BuildConfig())
    args = ["--vmas", "512", "--pages", "1", "--name-length", "79", "--forks", "8", "--warmup", "1",
            "--batches", "2", "--arm", "both", "--seed", "1"]
    initrd = run_dir / "initrd.img"
    initrd.write_bytes(initramfs(busybox_static().read_bytes(), payload.path.read_bytes(), init_script(args, 2048)))
    kernel = Path(ensure_kernel("x86_64").image)
    spec = QemuSpec("x86_64", kernel, initrd, memory_mb=512, cpus=1, accel="tcg", initrd=initrd)
    out = run_minimal(spec, initrd, run_dir, "minimal", timeout_s=300)
    assert out.exit_code == 0, out.tail
    events = [json.loads(line) for line in out.lines if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[-1]["exit_code"] == 0
    start = events[0]
    assert (start["vmas"], start["pages"], start["max_map_count"]) == (512, 1, 2048)
    checks = {e["event"]: e for e in events}
    assert checks["setup"]["vmas_created"] == 512 and checks["named_check"]["ok"] is True
    batches = [e for e in events if e["event"] == "batch"]
    assert sorted((b["batch"], b["arm"]) for b in batches) == [(0, "named"), (0, "unnamed"), (1, "named"),
                                                               (1, "unnamed")]
    assert all(len(b["fork_ns"]) == 4 and min(b["fork_ns"]) > 0 for b in batches)
