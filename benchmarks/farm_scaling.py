"""Farm scaling: wall time of four lab devices in one run against each device alone.

Four real lab devices (two amd64 in network namespaces, two arm64 under qemu-user; two
reached over adb, two over SSH), a light scenario. The figure is the ratio of the four-device
run's wall time to the slowest device's run alone, measured side by side in this run.
Goal: under 1.5 on a 2-core machine. Needs root (the lab).
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import figure, outcome, timed_run  # noqa: E402
from devlab import AdbServer, LabDevice, ensure_rootfs  # noqa: E402
from devlab.emulated import EmulatedLabDevice  # noqa: E402

LIGHT = "benchmark: {vmas: 2048, forks: 40, warmup: 1, batches: 4, scenarios: [{name: 1 page, pages: 1}]}\n"


def main() -> int:
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="devbench-farm-") as tmp:
        server = stack.enter_context(AdbServer())
        amd, arm = ensure_rootfs(), ensure_rootfs(arch="arm64", timeout=1800)
        devs = [
            stack.enter_context(LabDevice(amd, name="bench-a1")),
            stack.enter_context(LabDevice(amd, name="bench-a2")),
            stack.enter_context(EmulatedLabDevice(arm, arch="arm64", name="bench-r1")),
            stack.enter_context(EmulatedLabDevice(arm, arch="arm64", name="bench-r2")),
        ]
        lines = []
        for i, dev in enumerate(devs):
            if i % 2 == 0:
                server.connect(dev.adb_serial)
                lines.append(f'{{name: d{i}, adb: {{connect: "{dev.adb_serial}", server_port: {server.port}}}}}')
            else:
                s = dev.ssh()
                lines.append(
                    f"{{name: d{i}, ssh: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {s.key}, "
                    f"known_hosts: {s.known_hosts}}}}}"
                )
        alone = []
        for i, line in enumerate(lines):
            cfg = Path(tmp) / f"one-{i}.yaml"
            cfg.write_text(f"run: {{name: one, output: {tmp}/out}}\ntargets:\n  - {line}\n" + LIGHT)
            seconds, res = timed_run(cfg)
            alone.append(seconds)
            print(f"  d{i} alone: {seconds:.1f} s ({outcome(res)})", flush=True)
        cfg = Path(tmp) / "all.yaml"
        cfg.write_text(
            f"run: {{name: all, output: {tmp}/out}}\ntargets:\n" + "".join(f"  - {ln}\n" for ln in lines) + LIGHT
        )
        together, res = timed_run(cfg)
        ratio = together / max(alone)
        figure("farm: 4 devices / slowest alone", ratio, "x", "< 1.5", ratio < 1.5,
               f"4 together {together:.1f} s, alone {', '.join(f'{a:.1f}' for a in alone)} s; {outcome(res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
