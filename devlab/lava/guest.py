"""What the lab's LAVA QEMU device boots, and the kernel LAVA's libguestfs needs (cached).

The guest image: the lab's Debian trixie rootfs (devbench.guest.rootfs) as an ext4 image, like
devbench's own QEMU guest (devbench.qemu.image), with a pid 1 made for LAVA instead of adbd and
sshd: it mounts what a shell needs, links /dev/disk/by-uuid (LAVA mounts its test overlay disk
by UUID; there is no udev), sets up QEMU user networking (the guest reaches the host's
loopback as 10.0.2.2, where the lab's file server serves the payload), gives busybox's wget
to the test definition's install steps, and starts an interactive shell on the serial console
with the prompt PROMPT, which the LAVA job waits for. It sits at the same path as devbench's
guest init (INIT_PATH), so Debian's stock kernel with devbench's stock initramfs
(devbench.qemu.stock, which switch_roots into INIT_PATH) boots it too.

The libguestfs kernel: LAVA builds the test overlay into a disk with libguestfs, whose
supermin appliance needs a kernel and its modules; this machine has none in /boot. Debian's
cloud kernel package (apt-get download, dpkg-deb -x, depmod) is used; its paths go into the
worker's env.yaml.

Cache (``$DEVBENCH_CACHE/lava``, else ``~/.cache/devbench/lava``)::

    guest-x86_64-<key>/rootfs.ext4    the image        guest-x86_64-<key>.complete
    supermin-<package>_<version>/     vmlinuz-<release>, lib/modules/<release>/
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devbench.cache import building, cache_root, fresh_tmp, is_complete, mark_complete
from devbench.guest.errors import LabError
from devbench.guest.rootfs import ensure_rootfs
from devbench.qemu.image import INIT_PATH
from devbench.watchdog import watched_failure

FORMAT = "1"  # bump when the image recipe changes
IMAGE_NAME = "rootfs.ext4"
PROMPT = "devbench-lava# "
READY = "DEVBENCH-LAVA-GUEST-READY"
GUEST_ADDRESS = "10.0.2.15"  # QEMU user networking: the guest's fixed address, the host is 10.0.2.2
HOST_ADDRESS = "10.0.2.2"

LAVA_GUEST_INIT = r"""#!/bin/sh
# devbench LAVA guest init: pid 1 of the lab's LAVA QEMU device (devlab/lava/guest.py)
export PATH=/run/devbench-lava/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
mnt() {{  # TYPE DIR OPTIONS
    mkdir -p "$2"
    mountpoint -q "$2" 2>/dev/null || mount -t "$1" -o "$3" "$1" "$2" || echo "devbench-lava-init: mount $1 on $2 failed"
}}
mount -t proc -o nosuid,nodev,noexec proc /proc 2>/dev/null
mnt sysfs /sys nosuid,nodev,noexec
mnt devtmpfs /dev mode=0755,nosuid
exec </dev/null >/dev/console 2>&1
mnt devpts /dev/pts gid=5,mode=0620,ptmxmode=0666
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
for n in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
    [ -e "/dev/${{n%%:*}}" ] || ln -s "${{n#*:}}" "/dev/${{n%%:*}}"
done
mnt tmpfs /dev/shm mode=1777,nosuid,nodev
mnt tmpfs /run mode=0755,nosuid,nodev
mnt tmpfs /tmp mode=1777,nosuid,nodev
echo devbench-lava > /proc/sys/kernel/hostname
# LAVA mounts its test overlay disk by /dev/disk/by-uuid/UUID: no udev here, so link them
mkdir -p /dev/disk/by-uuid
for d in /dev/vd? /dev/sd?; do
    [ -b "$d" ] || continue
    u=$(blkid -s UUID -o value "$d" 2>/dev/null)
    [ -n "$u" ] && ln -sf "$d" "/dev/disk/by-uuid/$u" && echo "devbench-lava-init: $d is by-uuid/$u"
done
ip link set lo up
for d in /sys/class/net/*; do
    n=${{d##*/}}
    [ "$n" = lo ] && continue
    ip addr add {address}/24 dev "$n" && ip link set "$n" up && ip route add default via {host} dev "$n"
    break
done
# the test definition's install steps fetch the payload with wget: busybox's
mkdir -p /run/devbench-lava/bin
ln -s /usr/bin/busybox /run/devbench-lava/bin/wget
echo "{ready}"
PS1='{prompt}' setsid -c sh -i </dev/ttyS0 >/dev/ttyS0 2>&1 &
# pid 1: reap every child and orphan, forever
while :; do
    wait
    sleep 1
done
"""  # noqa: E501 (data, kept as it is)


def guest_init_script() -> str:
    return LAVA_GUEST_INIT.format(address=GUEST_ADDRESS, host=HOST_ADDRESS, ready=READY, prompt=PROMPT)


def lava_cache_root() -> Path:
    return cache_root("lava")


@dataclass(frozen=True)
class SuperminKernel:
    kernel: Path
    modules: Path
    release: str


def guest_image(cache_dir: Path | None = None, rootfs: Path | None = None) -> Path:
    """The LAVA guest's ext4 image (x86_64), built once from the lab rootfs."""
    rootfs = Path(rootfs) if rootfs is not None else ensure_rootfs(arch="amd64")
    base = Path(cache_dir) if cache_dir is not None else lava_cache_root()
    key = hashlib.sha256(json.dumps([FORMAT, str(rootfs.resolve()), guest_init_script()]).encode()).hexdigest()[:12]
    final = base / f"guest-x86_64-{key}"
    if not is_complete(final):
        with building(final) as needed:
            if needed:
                _build_image(final, rootfs)
    return final / IMAGE_NAME


def _build_image(final: Path, rootfs: Path) -> None:
    t0 = time.monotonic()
    tmp = fresh_tmp(final)
    try:
        stage = tmp / "stage"
        cp = subprocess.run(["cp", "-al", str(rootfs), str(stage)], capture_output=True, text=True)
        if cp.returncode != 0:
            raise LabError("lava-guest", f"cannot stage {rootfs}: {cp.stderr.strip()[-300:]}")
        init = stage / INIT_PATH.lstrip("/")
        init = init.parent.resolve() / init.name
        if stage.resolve() not in init.parents:
            raise LabError("lava-guest", f"{INIT_PATH} resolves outside the staging tree")
        if init.exists() or init.is_symlink():
            init.unlink()  # never write through a hardlink into the cached rootfs
        init.write_text(guest_init_script())
        os.chmod(init, 0o755)
        used = sum(f.stat().st_blocks * 512 for f in stage.rglob("*") if f.is_file() and not f.is_symlink())
        size_mib = (used * 12 // 10) // 2**20 + 128
        image = tmp / IMAGE_NAME
        cmd = [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            "devbench-lava",
            "-d",
            str(stage),
            "-m",
            "0",
            str(image),
            f"{size_mib}M",
        ]
        log = tmp / "build.log"
        # no total time limit (its duration is the machine's load): fails when it stops progressing
        problem = watched_failure(cmd, log, "mke2fs", tail=400)
        if problem:
            raise LabError("lava-guest", problem)
        shutil.rmtree(stage)
        os.chmod(image, 0o444)
        (tmp / "info.json").write_text(json.dumps({"rootfs": str(rootfs), "format": FORMAT, "size_mib": size_mib,
                                                   "build_seconds": round(time.monotonic() - t0, 1)}, indent=1) + "\n")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mark_complete(final, {"built_at": time.time()})


def supermin_kernel(cache_dir: Path | None = None) -> SuperminKernel:
    """Debian's cloud kernel with its modules, for libguestfs's appliance (downloaded once)."""
    from devbench.qemu.stock import resolve_package

    pkg, version = resolve_package("x86_64", "cloud")
    base = Path(cache_dir) if cache_dir is not None else lava_cache_root()
    final = base / f"supermin-{pkg}_{version}"
    if not is_complete(final):
        with building(final) as needed:
            if needed:
                _build_supermin(final, pkg)
    return _supermin_of(final)


def _supermin_of(root: Path) -> SuperminKernel:
    releases = sorted(p.name for p in (root / "lib/modules").iterdir())
    if len(releases) != 1:
        raise LabError("lava-supermin", f"expected one lib/modules/<release> in {root}, found {releases}")
    return SuperminKernel(kernel=root / "boot" / f"vmlinuz-{releases[0]}", modules=root / "lib/modules" / releases[0],
                          release=releases[0])


def _build_supermin(final: Path, pkg: str) -> None:
    tmp = fresh_tmp(final)
    try:
        dl = tmp / "deb"
        dl.mkdir()
        _run(["apt-get", "download", "-q", pkg], cwd=dl, what=f"apt-get download {pkg}")
        debs = sorted(dl.glob(f"{pkg}_*.deb"))
        if not debs:
            raise LabError("lava-supermin", f"apt-get download {pkg} wrote no .deb")
        root = tmp / "root"
        _run(["dpkg-deb", "-x", str(debs[-1]), str(root)], what=f"dpkg-deb -x {debs[-1].name}")
        shutil.rmtree(dl)
        release = _supermin_of(root).release
        _run(["depmod", "-b", str(root), release], what="depmod")
        for name in ("boot", "lib"):
            os.rename(root / name, tmp / name)
        shutil.rmtree(root)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mark_complete(final, {"built_at": time.time(), "package": pkg})


def _run(cmd: list[str], *, what: str, cwd: Path | None = None) -> None:
    cp = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
    if cp.returncode != 0:
        raise LabError(
            "lava-supermin", f"{what} failed (exit {cp.returncode}): {(cp.stderr or cp.stdout).strip()[-300:]}"
        )
