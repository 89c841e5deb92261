"""Build and cache a Debian trixie root filesystem that holds adbd and sshd (mmdebstrap).

Foreign architectures (``arch="arm64"`` on an x86_64 host) are built under qemu-user
(package qemu-user-static) without touching the host's binfmt_misc: mmdebstrap runs as
``python3 _binfmt_ns.py --arch aarch64 mmdebstrap --mode=root ...``. That helper puts it in a
new user namespace with the identity uid/gid map (0..4294967294 -> same ids: real root's
files stay real root's), a new mount namespace and a fresh binfmt_misc instance
(Linux >= 6.7: binfmt_misc is per user namespace) holding only ``qemu-aarch64`` with flags
``FP``. mmdebstrap's root mode is written to also work as root of a user namespace: it finds
that mknod is refused and bind-mounts the host's /dev nodes, and bind-mounts /sys and /proc (a new
sysfs/proc needs to own the network/pid namespace) instead of mounting them. See _binfmt_ns.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devbench import cache as devbench_cache
from devbench.cache import building, fresh_tmp, is_complete, mark_complete
from devbench.watchdog import DEFAULT_STALL, StallError, run_watched

from .errors import LabError
from .mirror import debian_mirror

SUITE = "trixie"
# linux-perf adds ~144 MB (it pulls libperl and libpython) and ~6 s of build time.
DEFAULT_PACKAGES: tuple[str, ...] = ("adbd", "openssh-server", "procps", "busybox", "iproute2", "linux-perf")
ADBD_PATH = "/usr/lib/android-sdk/platform-tools/adbd"
SSHD_PATH = "/usr/sbin/sshd"
_CACHE_FORMAT = "1"  # bump when the build recipe changes
_BINFMT_NS = Path(__file__).with_name("_binfmt_ns.py")
# Debian architecture -> qemu-user name (as in _binfmt_ns.BINFMTS), for foreign builds
QEMU_ARCH: dict[str, str] = {"arm64": "aarch64"}
_NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}


def native_arch() -> str:
    """The host's Debian architecture name (amd64 on x86_64)."""
    m = platform.machine()
    return _NATIVE.get(m, m)


def needs_emulation(arch: str) -> bool:
    """True if ``arch`` binaries need qemu-user on this host (run them via _binfmt_ns.py)."""
    return arch != native_arch() and arch in QEMU_ARCH


def cache_root() -> Path:
    """``$DEVBENCH_CACHE/lab``, else ``$XDG_CACHE_HOME/devbench/lab``, else ``~/.cache/devbench/lab``."""
    return devbench_cache.cache_root("lab")


def rootfs_key(suite: str, arch: str, packages: Sequence[str]) -> str:
    """Short hash of what determines the rootfs content."""
    h = hashlib.sha256(json.dumps([_CACHE_FORMAT, suite, arch, sorted(set(packages))]).encode())
    return h.hexdigest()[:12]


def rootfs_path(arch: str = "amd64", cache_dir: Path | None = None,
                packages: Sequence[str] = DEFAULT_PACKAGES, suite: str = SUITE) -> Path:
    """Where :func:`ensure_rootfs` keeps the rootfs for these arguments (it may not exist yet)."""
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    return base / f"rootfs-{suite}-{arch}-{rootfs_key(suite, arch, packages)}"


def ensure_rootfs(arch: str = "amd64", cache_dir: Path | None = None,
                  packages: Sequence[str] = DEFAULT_PACKAGES, suite: str = SUITE,
                  mirror: str | None = None, stall: float = DEFAULT_STALL) -> Path:
    """Return a complete cached rootfs, building it with mmdebstrap first if needed.

    The build goes to a temporary directory beside the target and is renamed into place;
    a marker file ``<root>.complete`` is written last. ``<root>.lock`` (fcntl) serialises
    builders; ``<root>.log`` holds mmdebstrap's output. No total time limit: the build fails
    when it made no progress (no output, no CPU time) for ``stall`` seconds
    (devbench.watchdog). Raises LabError on failure.
    """
    root = rootfs_path(arch, cache_dir, packages, suite)
    if is_complete(root):
        return root
    with building(root) as needed:
        if needed:
            _build(root, arch, packages, suite, mirror, stall)
    return root


def mmdebstrap_command(target: Path, arch: str, packages: Sequence[str] = DEFAULT_PACKAGES,
                       suite: str = SUITE, mirror: str = "", extra: Sequence[str] = ()) -> list[str]:
    """The argument list that builds the lab rootfs into ``target`` (pure; nothing is run).

    A foreign ``arch`` runs mmdebstrap under _binfmt_ns.py (a private binfmt_misc with
    qemu-user), in root mode as root of that user namespace. ``extra``: more mmdebstrap
    options (e.g. ``--simulate``, which devlab.toolcheck uses).
    """
    cmd = ["mmdebstrap", "--variant=apt", f"--architectures={arch}", *extra,
           "--include=" + ",".join(packages), suite, str(target), mirror]
    if needs_emulation(arch):
        cmd = [sys.executable, str(_BINFMT_NS), "--arch", QEMU_ARCH[arch], "--",
               cmd[0], "--mode=root", *cmd[1:]]
    return cmd


def _build(root: Path, arch: str, packages: Sequence[str], suite: str,
           mirror: str | None, stall: float) -> None:
    if shutil.which("mmdebstrap") is None:
        raise LabError("rootfs", "mmdebstrap is not installed (apt-get install mmdebstrap)")
    if os.geteuid() != 0:
        raise LabError("rootfs", "building the lab rootfs needs root")
    mirror = mirror or debian_mirror()
    log = root.with_name(root.name + ".log")
    if needs_emulation(arch):
        qemu = QEMU_ARCH[arch]
        if not os.access(f"/usr/bin/qemu-{qemu}-static", os.X_OK):
            raise LabError("rootfs", f"building an {arch} rootfs needs /usr/bin/qemu-{qemu}-static "
                                     "(apt-get install qemu-user-static)")
    tmp = fresh_tmp(root)
    cmd = mmdebstrap_command(tmp, arch, packages, suite, mirror)
    t0 = time.monotonic()
    try:
        log.write_text("")
        try:
            rc = run_watched(cmd, log, stall=stall)
        except StallError as e:
            raise LabError("rootfs", f"mmdebstrap stalled: {e}; log {log}:\n{_tail(log)}") from None
        if rc != 0:
            raise LabError("rootfs", f"mmdebstrap failed (exit {rc}); log {log}:\n{_tail(log)}")
        if "adbd" in packages and not (tmp / ADBD_PATH.lstrip("/")).exists():
            raise LabError("rootfs", f"adbd missing at {ADBD_PATH} after build; log {log}")
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = {"suite": suite, "arch": arch, "packages": list(packages), "mirror": mirror,
            "build_seconds": round(time.monotonic() - t0, 1), "built_at": time.time()}
    mark_complete(root, info)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read log: {e})"
