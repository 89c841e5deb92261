"""A minimal guest: the kernel, a busybox initramfs and the payload; no disk, no network, no daemons.

The initramfs's ``/init`` mounts proc, sysfs and devtmpfs, raises ``vm.max_map_count``, runs
the payload binary once with the given arguments (its output to the serial console), prints
the payload's exit code and powers off (QEMU runs with ``-no-reboot``, so the reboot ends it).
It is the reference of issue 14's noise measurements: the same payload and kernel as
devbench's guest, with nothing else running beside it. The console is only parsed (payload
event lines between two markers), never obeyed.

busybox comes from Debian's ``busybox-static`` (``apt-get download`` from the machine's own
apt sources, as the stock kernel's initramfs; cached under ``$DEVBENCH_CACHE/qemu``).
"""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devbench.cache import building, fresh_tmp, is_complete, mark_complete

from .errors import QemuError
from .image import qemu_cache_root
from .machine import CONSOLES, QEMU_BINARIES, QemuSpec, console_lines, machine_args
from .stock import BUSYBOX_PACKAGE, _candidate, _download, _extract, cpio_newc

START_MARKER = "DEVBENCH-MINIMAL-START"
END_MARKER = "DEVBENCH-MINIMAL-END"
PAYLOAD_PATH = "/forkbench"

INIT = """#!/bin/busybox sh
# devbench minimal guest: run the payload once, nothing else running, then power off.
export PATH=/bin
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev
exec </dev/null >/dev/console 2>&1
echo {max_map_count} > /proc/sys/vm/max_map_count || echo "{end} max_map_count not set"
echo "{start}"
{payload} {args}
echo "{end} $?"
reboot -f
"""


def init_script(payload_args: Sequence[str], max_map_count: int) -> str:
    """The /init of the minimal guest (pure); every payload argument shell-quoted."""
    if max_map_count < 1:
        raise ValueError("max_map_count must be positive")
    return INIT.format(max_map_count=int(max_map_count), start=START_MARKER, end=END_MARKER, payload=PAYLOAD_PATH,
                       args=" ".join(shlex.quote(str(a)) for a in payload_args))


def initramfs(busybox: bytes, payload: bytes, script: str) -> bytes:
    """gzip'd cpio newc: /init, /bin/busybox (and the applets /init uses), the payload, /dev/console."""
    d, x, ln = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755, stat.S_IFLNK | 0o777
    entries: list[tuple[str, int, bytes, int]] = [(n, d, b"", 0) for n in ("bin", "dev", "proc", "sys")]
    entries.append(("dev/console", stat.S_IFCHR | 0o600, b"", (5 << 8) | 1))
    entries.append(("bin/busybox", x, busybox, 0))
    entries += [(f"bin/{a}", ln, b"busybox", 0) for a in ("sh", "mount", "echo", "reboot")]
    entries.append((PAYLOAD_PATH.lstrip("/"), x, payload, 0))
    entries.append(("init", x, script.encode(), 0))
    return gzip.compress(cpio_newc(entries), compresslevel=6, mtime=0)


@dataclass(frozen=True)
class Outcome:
    """What the minimal guest printed: the payload's lines, its exit code (None: no end marker,
    the guest died or hung) and the console's last lines (for an error message)."""

    lines: list[str]
    exit_code: int | None
    tail: list[str]


def parse_console(text: str) -> Outcome:
    """The payload's output lines between the markers, and its exit code (pure)."""
    lines = console_lines(text)
    out: list[str] = []
    code: int | None = None
    inside = False
    for line in lines:
        s = line.strip()
        if s == START_MARKER:
            inside, out = True, []
            continue
        if s.startswith(END_MARKER):
            rest = s[len(END_MARKER):].strip()
            code = int(rest) if rest.isdigit() and int(rest) <= 255 else None
            inside = False
            continue
        if inside and s:
            out.append(s)
    return Outcome(out, code, [ln for ln in lines if ln.strip()][-20:])


def minimal_command(spec: QemuSpec, initrd: Path, console_log: Path) -> list[str]:
    """The QEMU command line of the minimal guest (pure): devbench's machine, accelerator,
    CPU, memory and vCPUs of ``spec`` (its image, daemons and network are not used)."""
    return [QEMU_BINARIES[spec.arch], *machine_args(spec), "-m", str(spec.memory_mb), "-smp", str(spec.cpus),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-kernel", str(spec.kernel), "-initrd", str(initrd),
            "-append", f"console={CONSOLES[spec.arch]} panic=-1 oops=panic rdinit=/init quiet {spec.append}".strip(),
            "-chardev", f"file,id=c0,path={console_log}", "-serial", "chardev:c0", "-monitor", "none"]


def run_minimal(spec: QemuSpec, initrd: Path, run_dir: Path, name: str, timeout_s: float) -> Outcome:
    """Boot the minimal guest once, wait for QEMU to end (the guest powers off after the
    payload), parse its console. QEMU is SIGKILLed by its process group on a timeout or an
    exception (an interrupt)."""
    console = run_dir / f"console-{name}.log"
    console.write_bytes(b"")
    cmd = ["timeout", "--signal=KILL", str(int(timeout_s) + 60), *minimal_command(spec, initrd, console)]
    (run_dir / f"qemu-{name}.cmd").write_text(shlex.join(cmd) + "\n")
    with open(run_dir / f"qemu-{name}.stderr", "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True, close_fds=True)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        tail = parse_console(console.read_text(errors="replace")).tail
        raise QemuError("minimal", f"{name}: the guest did not power off within {timeout_s:g} s"
                                   + (f"; console: {tail[-1][:200]}" if tail else "")) from None
    except BaseException:
        _kill(proc)
        raise
    return parse_console(console.read_text(errors="replace"))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the group is the timeout wrapper's
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def busybox_static(cache_dir: Path | None = None) -> Path:
    """Debian's static busybox (downloaded once, never installed): the path of the binary."""
    base = Path(cache_dir) if cache_dir is not None else qemu_cache_root()
    version = _candidate(BUSYBOX_PACKAGE)
    final = base / f"busybox-static_{version.replace(':', '_')}"
    if not is_complete(final):
        with building(final) as needed:
            if needed:
                tmp = fresh_tmp(final)
                try:
                    work = tmp / "work"
                    work.mkdir()
                    os.chmod(tmp, 0o755)
                    os.chmod(work, 0o755)  # apt's sandbox user downloads there
                    debs = _download([BUSYBOX_PACKAGE], work)
                    _extract(debs[BUSYBOX_PACKAGE], work / "x")
                    bb = work / "x" / "bin" / "busybox"
                    if not bb.is_file():
                        raise QemuError("minimal", f"{BUSYBOX_PACKAGE} {version}: no bin/busybox in the package")
                    os.replace(bb, tmp / "busybox")
                    shutil.rmtree(work)
                    os.rename(tmp, final)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                mark_complete(final, {"built_at": time.time(), "version": version})
    return final / "busybox"


__all__ = ["END_MARKER", "START_MARKER", "Outcome", "busybox_static", "init_script", "initramfs", "minimal_command",
           "parse_console", "run_minimal"]
