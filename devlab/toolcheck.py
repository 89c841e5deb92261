"""Try each tool devbench's set-up and tests need at its first real use, naming its packages.

``scripts/dev check-tools`` installs what ``scripts/dev test`` installs (apt lists, venv) and
then runs ``python -m devlab.toolcheck``. Each check runs a real first use of a tool (the
lab rootfs's mmdebstrap command with ``--simulate``, the kernel's config step on Debian's
linux-source, the payload's compile, an arm64 binary under qemu-user, a page in headless
Chromium, ...) and declares the Debian packages it needs. A failing check prints its output
and which of those packages are not installed: the one missing from scripts/dev's lists.

The fresh-machine test (tests/fresh) runs this inside a clean Debian 12 root file system.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Step = list[str]


@dataclass(frozen=True)
class Check:
    """One tool's first real use: ``steps(work)`` gives the commands, run in order in ``work``."""

    name: str
    packages: tuple[str, ...]  # the Debian packages the tool needs
    steps: Callable[[Path], list[Step]]
    timeout: float = 120.0
    expect: str = ""  # text the last step must print (stdout or stderr), if any


@dataclass
class Outcome:
    check: Check
    ok: bool
    seconds: float
    detail: str = ""  # the failing command and its output's tail
    missing: list[str] = field(default_factory=list)  # declared packages not installed


def installed(package: str) -> bool:
    """True if dpkg says ``package`` is installed."""
    try:
        cp = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return cp.returncode == 0 and cp.stdout.strip().endswith("install ok installed")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_step(cmd: Step, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run one command (its own session, killed whole on timeout). (exit code, stdout+stderr)."""
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                start_new_session=True, env=env)
    except OSError as e:
        return 127, f"cannot run {cmd[0]}: {e.strerror}"
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return 124, (out or "") + f"\n(timed out after {timeout:.0f} s)"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out


def run_check(check: Check, work: Path) -> Outcome:
    t0 = time.monotonic()
    deadline = t0 + check.timeout
    out = ""
    try:
        steps = check.steps(work)
    except Exception as e:  # a step that cannot even be prepared (no source tarball, ...)
        return _failed(check, t0, f"{type(e).__name__}: {e}")
    for cmd in steps:
        left = deadline - time.monotonic()
        rc, out = run_step(cmd, work, max(left, 1.0))
        if rc != 0:
            return _failed(check, t0, f"$ {_show(cmd)}\n(exit {rc})\n{tail(out)}")
    if check.expect and check.expect not in out:
        return _failed(check, t0, f"$ {_show(steps[-1])}\nprinted no {check.expect!r}:\n{tail(out)}")
    return Outcome(check, True, time.monotonic() - t0)


def _failed(check: Check, t0: float, detail: str) -> Outcome:
    missing = [p for p in check.packages if not installed(p)]
    return Outcome(check, False, time.monotonic() - t0, detail, missing)


def _show(cmd: Step) -> str:
    import shlex
    return shlex.join(cmd)


def report_line(o: Outcome) -> str:
    """One line per check; a failure names the packages (and which are not installed)."""
    if o.ok:
        return f"ok    {o.check.name} ({o.seconds:.1f} s)"
    needs = ", ".join(o.check.packages)
    if o.missing:
        why = (f"not installed: {', '.join(o.missing)} (needed by {o.check.name}; "
               f"add {'it' if len(o.missing) == 1 else 'them'} to scripts/dev's package lists)")
    else:
        why = f"its packages ({needs}) are all installed"
    return f"FAIL  {o.check.name} ({o.seconds:.1f} s): {why}"


# ---------------------------------------------------------------------------------------------
# the checks


def _write(work: Path, name: str, text: str) -> Path:
    p = work / name
    p.write_text(text)
    return p


def _venv(work: Path) -> list[Step]:
    mods = "devbench, numpy, scipy, paramiko, adbutils, jinja2, yaml, rich, ziglang, selenium, labgrid, pytest"
    return [[sys.executable, "-c", f"import {mods}"]]


def _payload_native(work: Path) -> list[Step]:
    from devbench.payload.build import CFLAGS, source_path
    return [["gcc", *CFLAGS, "-o", str(work / "forkbench"), str(source_path())],
            [str(work / "forkbench"), "--help"]]


_HELLO = '#include <stdio.h>\nint main(void) { puts("hello from arm64"); return 0; }\n'


def _payload_arm64(work: Path) -> list[Step]:
    from devbench.payload.build import CFLAGS, GCC_PREFIXES, source_path
    cc = GCC_PREFIXES["aarch64"] + "gcc"
    hello = _write(work, "hello.c", _HELLO)
    return [[cc, *CFLAGS, "-o", str(work / "forkbench-arm64"), str(source_path())],
            [cc, "-static", "-o", str(work / "hello-arm64"), str(hello)],
            ["qemu-aarch64-static", str(work / "hello-arm64")]]


def _kernel_source() -> Path:
    from devbench.kernel.build import find_source
    return find_source()


def _kernel_config(work: Path) -> list[Step]:
    """Unpack Debian's linux-source and run the x86_64 build's first config target (kconfig's
    conf is built with flex, bison and gcc); bc runs the kernel's timeconst.bc as Kbuild does."""
    from devbench.kernel.fragment import base_recipe
    src = _kernel_source()
    tree, obj = work / "linux", work / "obj"
    tree.mkdir()
    obj.mkdir()
    _write(work, "hz", "250\n")
    return [["tar", "-xf", str(src), "-C", str(tree), "--strip-components=1"],
            ["make", "-s", "-C", str(tree), f"O={obj}", "ARCH=x86", base_recipe("x86_64")[0]],
            ["sh", "-c", 'bc -q -s "$1" < "$2"', "sh", str(tree / "kernel/time/timeconst.bc"), str(work / "hz")]]


def _libelf(work: Path) -> list[Step]:  # objtool (x86_64 kernels) links libelf
    c = _write(work, "elf.c", "#include <gelf.h>\nint main(void) { return elf_version(EV_CURRENT) == EV_NONE; }\n")
    return [["gcc", "-o", str(work / "elf"), str(c), "-lelf"], [str(work / "elf")]]


def _libssl(work: Path) -> list[Step]:  # the kernel's certificate and signing tools link libcrypto
    c = _write(
        work, "ssl.c", "#include <openssl/evp.h>\nint main(void) { return EVP_MD_get_size(EVP_sha256()) != 32; }\n"
    )
    return [["gcc", "-o", str(work / "ssl"), str(c), "-lcrypto"], [str(work / "ssl")]]


def _mmdebstrap(arch: str) -> Callable[[Path], list[Step]]:
    def steps(work: Path) -> list[Step]:
        from devbench.guest.mirror import debian_mirror
        from devbench.guest.rootfs import mmdebstrap_command
        return [mmdebstrap_command(work / f"rootfs-{arch}", arch, mirror=debian_mirror(),
                                   extra=["--simulate"])]
    return steps


def _guest_disk(work: Path) -> list[Step]:  # devbench.qemu.image makes the guest's disk this way
    stage = work / "stage"
    stage.mkdir()
    _write(stage, "hello", "hello\n")
    return [["mke2fs", "-q", "-F", "-t", "ext4", "-L", "devbench-root", "-d", str(stage), "-m", "0",
             str(work / "disk.img"), "8M"]]


def _initramfs(work: Path) -> list[Step]:
    return [["sh", "-c", 'echo hello > f && echo f | cpio -o -H newc > f.cpio && xz -k f.cpio && depmod -V']]


def _chromium(work: Path) -> list[Step]:
    return [["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={work / 'profile'}", "--dump-dom",
             "data:text/html,<p>devbench-rendered</p>"],
            ["chromedriver", "--version"]]


CHECKS: tuple[Check, ...] = (
    Check("venv (devbench and its Python dependencies)", ("python3-venv", "python3-pip"), _venv, 60),
    Check("payload (gcc, static, x86_64)", ("build-essential",), _payload_native, 120, "usage: forkbench"),
    Check("payload (aarch64 cross gcc) under qemu-user", ("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross",
                                                          "qemu-user-static"), _payload_arm64, 120, "hello from arm64"),
    Check("kernel config (linux-source, make, flex, bison, bc)",
          ("linux-source-6.12", "xz-utils", "build-essential", "flex", "bison", "bc"), _kernel_config, 300),
    Check("kernel libelf (objtool)", ("libelf-dev", "build-essential"), _libelf, 60),
    Check("kernel libssl (certificate tools)", ("libssl-dev", "build-essential"), _libssl, 60),
    Check("lab rootfs amd64 (mmdebstrap --simulate)", ("mmdebstrap", "ca-certificates"), _mmdebstrap("amd64"), 240),
    Check("lab rootfs arm64 (mmdebstrap --simulate, foreign arch)", ("mmdebstrap", "arch-test", "qemu-user-static"),
          _mmdebstrap("arm64"), 240),
    Check("guest disk (mke2fs -d)", ("e2fsprogs",), _guest_disk, 60),
    Check("initramfs tools (cpio, xz, depmod)", ("cpio", "xz-utils", "kmod"), _initramfs, 60),
    Check("qemu-system-x86_64", ("qemu-system-x86",), lambda w: [["qemu-system-x86_64", "-version"]], 30),
    Check("qemu-system-aarch64", ("qemu-system-arm",), lambda w: [["qemu-system-aarch64", "-version"]], 30),
    Check("lab network (ip netns, unshare)", ("iproute2", "util-linux"),
          lambda w: [["ip", "netns", "list"], ["unshare", "--mount", "--propagation", "private", "true"]], 30),
    Check("report browser (headless chromium, chromedriver)", ("chromium", "chromium-driver"), _chromium, 120,
          "ChromeDriver"),
    Check("LAVA job schema (lava-common, system python)", ("lava-common",),
          lambda w: [["/usr/bin/python3", "-c", "import lava_common.compat, lava_common.schemas"]], 60),
    Check("LAVA test shells (dash, wget, mawk, gawk, busybox, shellcheck)",
          ("dash", "wget", "mawk", "gawk", "busybox", "shellcheck"),
          lambda w: [["dash", "-c", "exit 0"], ["wget", "--version"], ["mawk", "BEGIN { exit 0 }"],
                     ["gawk", "BEGIN { exit 0 }"], ["busybox", "awk", "BEGIN { exit 0 }"],
                     ["shellcheck", "--version"]], 30),
)


def select(checks: Sequence[Check], only: Sequence[str]) -> list[Check]:
    """The checks whose name contains one of ``only`` (all of them if ``only`` is empty)."""
    if not only:
        return list(checks)
    return [c for c in checks if any(o.lower() in c.name.lower() for o in only)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devlab.toolcheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only the checks whose name contains TEXT (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the checks and their packages")
    args = ap.parse_args(argv)
    checks = select(CHECKS, args.only)
    if args.list:
        for c in checks:
            print(f"{c.name}: {' '.join(c.packages)}")
        return 0
    if not checks:
        print(f"toolcheck: no check matches {args.only}", file=sys.stderr)
        return 2
    failed: list[Outcome] = []
    for c in checks:
        work = Path(tempfile.mkdtemp(prefix="devbench-toolcheck-"))
        try:
            o = run_check(c, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(report_line(o), flush=True)
        if not o.ok:
            failed.append(o)
            print("      " + o.detail.replace("\n", "\n      "), flush=True)
    missing = sorted({p for o in failed for p in o.missing})
    print(f"toolcheck: {len(checks) - len(failed)} of {len(checks)} checks passed"
          + (f"; missing packages: {', '.join(missing)}" if missing else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
