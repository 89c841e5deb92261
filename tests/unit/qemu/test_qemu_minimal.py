"""The minimal reference guest's pure parts: its /init (run by sh against stand-in commands),
its initramfs (read back by a cpio reader), its QEMU command line, the console parser; and the
noise benchmark's figures on fixed numbers."""

from __future__ import annotations

import gzip
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devbench.qemu import QemuSpec
from devbench.qemu.minimal import END_MARKER, START_MARKER, init_script, initramfs, minimal_command, parse_console

K = Path("/k/bzImage")
RD = Path("/r/initrd.img")


def _opt(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd[:-1]) if a == flag]


def test_init_runs_the_payload_with_its_arguments_quoted_between_the_markers(tmp_path: Path) -> None:
    """The script as sh runs it: mount, reboot and the payload are stand-ins that print their
    arguments (a shell-looking argument stays one argument, never a command)."""
    args = ["--vmas", "65536", "--arm", "both", "x; touch pwned", "$(touch pwned2)"]
    script = init_script(args, 66560)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("mount", "reboot"):
        (bindir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bindir / tool).chmod(0o755)
    payload = tmp_path / "forkbench"
    payload.write_text('#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\nexit 7\n')
    payload.chmod(0o755)
    body = (script.split("\n", 1)[1]
            .replace("export PATH=/bin", f"export PATH={bindir}:$PATH")
            .replace("exec </dev/null >/dev/console 2>&1", "")
            .replace("> /proc/sys/vm/max_map_count", f"> {tmp_path}/max_map_count")
            .replace("/forkbench ", f"{payload} "))
    out = subprocess.run(["sh", "-c", body], capture_output=True, text=True, cwd=tmp_path, timeout=10)
    got = parse_console(out.stdout)
    assert got.exit_code == 7
    assert got.lines == [f"arg:{a}" for a in args]
    assert (tmp_path / "max_map_count").read_text().strip() == "66560"
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_init_script_refuses_a_nonsense_map_count() -> None:
    with pytest.raises(ValueError):
        init_script(["--vmas", "1"], 0)


def _cpio_entries(blob: bytes) -> dict[str, tuple[int, bytes]]:
    """A reader of cpio newc (independent of the writer): {name: (mode, data)}."""
    raw = gzip.decompress(blob)
    out, pos = {}, 0
    while True:
        hdr = raw[pos:pos + 110]
        assert hdr[:6] == b"070701"
        f = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        name = raw[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        data = raw[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data)


def test_initramfs_holds_init_busybox_payload_and_console() -> None:
    blob = initramfs(b"BUSYBOX", b"\x7fELF-payload", init_script(["--vmas", "8"], 1032))
    e = _cpio_entries(blob)
    assert e["init"][1].startswith(b"#!/bin/busybox sh\n") and stat.S_IMODE(e["init"][0]) == 0o755
    assert e["bin/busybox"][1] == b"BUSYBOX"
    assert e["forkbench"][1] == b"\x7fELF-payload" and stat.S_IMODE(e["forkbench"][0]) == 0o755
    assert stat.S_ISCHR(e["dev/console"][0])
    for applet in ("sh", "mount", "echo", "reboot"):
        assert stat.S_ISLNK(e[f"bin/{applet}"][0]) and e[f"bin/{applet}"][1] == b"busybox"
    assert {"proc", "sys", "dev", "bin"} <= {n for n, (m, _) in e.items() if stat.S_ISDIR(m)}


@pytest.mark.parametrize("machine,cpus", [(None, 1), ("pc", 2)])
def test_minimal_command_is_devbenchs_machine_without_disk_or_network(machine: str | None, cpus: int) -> None:
    spec = QemuSpec("x86_64", K, Path("/unused"), memory_mb=2048, cpus=cpus, accel="tcg", machine=machine)
    cmd = minimal_command(spec, RD, Path("/run/c.log"))
    assert _opt(cmd, "-M") == [machine or "q35"] and _opt(cmd, "-accel") == ["tcg,thread=multi"]
    assert _opt(cmd, "-smp") == [str(cpus)] and _opt(cmd, "-m") == ["2048"]
    assert _opt(cmd, "-initrd") == [str(RD)] and "rdinit=/init" in _opt(cmd, "-append")[0].split()
    assert "-drive" not in cmd and "-netdev" not in cmd and "-device" not in cmd
    assert "-no-reboot" in cmd and "-nodefaults" in cmd
    assert _opt(cmd, "-serial") == ["chardev:c0"] and _opt(cmd, "-chardev") == ["file,id=c0,path=/run/c.log"]


def test_parse_console_takes_only_the_payload_lines() -> None:
    text = (
        "[    0.5] Linux version 6.12\r\nboot noise\r\n" + START_MARKER + "\r\n"
        '{"event":"start"}\r\n\x1b[0m{"event":"end","exit_code":0}\r\n' + END_MARKER + " 0\r\nreboot: Restarting\r\n"
    )
    got = parse_console(text)
    assert got.lines == ['{"event":"start"}', '{"event":"end","exit_code":0}'] and got.exit_code == 0
    assert got.tail[-1] == "reboot: Restarting"


@pytest.mark.parametrize("text", ["", START_MARKER + "\n{}\n", START_MARKER + "\n" + END_MARKER + " rm -rf /\n",
                                  END_MARKER + " 999\n"])
def test_parse_console_without_a_valid_end_has_no_exit_code(text: str) -> None:
    assert parse_console(text).exit_code is None


# -- the benchmark's figures (fixed numbers) -----------------------------------------------------

def _bench():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    import benchmarks.realclock_noise as rn

    return rn


def test_batch_cv_is_the_population_cv_of_batch_means() -> None:
    rn = _bench()
    data = {"samples": [{"arm": "unnamed", "fork_ns": [90, 110]}, {"arm": "unnamed", "fork_ns": [200]},
                        {"arm": "named", "fork_ns": [5]}]}
    # batch means 100 and 200: mean 150, population sd 50
    assert rn.batch_cv_pct(data, "unnamed") == pytest.approx(100 * 50 / 150)
    assert rn.batch_cv_pct(data, "named") is None  # one batch: no spread


def test_variant_configs_parse_and_change_one_thing(tmp_path: Path) -> None:
    import argparse

    from devbench.config import parse_text

    rn = _bench()
    a = argparse.Namespace(memory_mb=4096, cpus=1, vmas=65536, forks=100, warmup=1, batches=10, pages=0)
    opts = {v.name: parse_text(rn.config_text(v, a, tmp_path / v.name), "v.yaml").targets[0].options
            for v in rn.VARIANTS}
    base = opts["base-1cpu"]
    assert (base.cpus, base.clock, base.machine, base.daemons, base.detach) == (
        1,
        "real",
        None,
        ("adbd", "sshd"),
        False,
    )
    diff = {name: {k for k in ("cpus", "machine", "daemons", "detach") if getattr(o, k) != getattr(base, k)}
            for name, o in opts.items()}
    assert diff == {"base-1cpu": set(), "base-2cpu": {"cpus"}, "machine-pc": {"machine"}, "no-sshd": {"daemons"},
                    "detached": {"detach"}, "minimal": set(), "pinned-2cpu": {"cpus"}}
    pins = {v.name: parse_text(rn.config_text(v, a, tmp_path), "v.yaml").device.pin for v in rn.VARIANTS}
    assert {n: p for n, p in pins.items() if p} == {"pinned-2cpu": (1,)}


def test_table_has_one_row_per_variant_with_every_run() -> None:
    rn = _bench()
    runs = {"base-1cpu": [{"cv_unnamed_pct": 2.0, "cv_named_pct": 3.0, "median_unnamed_ms": 65.0,
                           "regression_pct": 1.5, "regression_ci_pct": [0.2, 3.0]},
                          {"cv_unnamed_pct": 4.0, "cv_named_pct": 1.0, "median_unnamed_ms": 67.0,
                           "regression_pct": None, "regression_ci_pct": None}]}
    lines = rn.table([rn.VARIANTS[0]], runs).splitlines()
    assert len(lines) == 3
    row = lines[2].split()
    assert row[:3] == ["base-1cpu", "3.0", "(2.0/4.0)"] and row[3] == "2.0" and row[4] == "66.00"
    assert "+1.5% [+0.2, +3.0]; -" in lines[2]
