"""A cached ext4 disk image of the lab rootfs for QEMU guests, made without mounting.

The lab rootfs (:func:`devbench.guest.rootfs.ensure_rootfs`) is staged with hardlinks (``cp -al``;
a copy with ``--reflink=auto`` when the cache spans filesystems), the guest files are
added to the staging tree (replacing, never modifying, hardlinked files), and
``mke2fs -t ext4 -d STAGE`` writes the image. Guests boot it with ``snapshot=on``, so the
cached image is never written.

Cache layout (``$DEVBENCH_CACHE/qemu``, else ``~/.cache/devbench/qemu``)::

    guest-<arch>-<key>/rootfs.ext4            the image (label devbench-root)
    guest-<arch>-<key>/id_ed25519[.pub]       client key (in the image's authorized_keys)
    guest-<arch>-<key>/ssh_host_ed25519_key.pub   the guest's host key (for known_hosts)
    guest-<arch>-<key>/info.json              what it was built from, size, build time
    guest-<arch>-<key>.complete               written last
    guest-<arch>-<key>.lock                   fcntl lock of builders

``<key>`` hashes the rootfs identity (path and completion marker), the generated files
(init script, sshd config) and the arch.
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

from devbench.cache import building, fresh_tmp, is_complete, mark_complete, marker_path
from devbench.guest.keys import write_ed25519
from devbench.guest.rootfs import ADBD_PATH, SSHD_PATH, cache_root, ensure_rootfs
from devbench.guest.sshd import SSHD_CONFIG  # the guest sshd config (the lab devices use it too)
from devbench.watchdog import watched_failure

from .errors import QemuError

_IMAGE_FORMAT = "1"  # bump when the build recipe changes
ARCHES: dict[str, str] = {"x86_64": "amd64", "arm64": "arm64"}  # guest arch -> Debian arch
GUEST_ADDRESS = "10.0.2.15"  # QEMU user networking's first (and fixed) guest address
GUEST_ADB_PORT = 5555
GUEST_SSH_PORT = 22
IMAGE_NAME = "rootfs.ext4"
INIT_PATH = "/sbin/devbench-guest-init"  # /sbin is a symlink to usr/sbin in trixie
READY_MARKER = "DEVBENCH-GUEST-READY"
DAEMONS_ARG = (
    "devbench.daemons"  # kernel argument naming the daemons the init starts (a dotted one: not passed to init)
)
FAILED_MARKER = "DEVBENCH-GUEST-FAILED"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# pid 1 of the guest. Its stdout is the kernel console (the serial port).
GUEST_INIT = r"""#!/bin/sh
# devbench guest init: pid 1 of a QEMU guest (kernel arg init=/sbin/devbench-guest-init).
export PATH={path} HOME=/root LANG=C.UTF-8
cd /
say() {{ echo "devbench-guest-init: $*"; }}
fail() {{
    echo "{failed}: $*"
    for f in /run/devbench/sshd.log /run/devbench/adbd.log; do
        [ -s "$f" ] && tail -n 5 "$f" | sed "s|^|${{f##*/}}: |"
    done
    sync
    # QEMU runs with -no-reboot: a reboot ends QEMU at once (poweroff needs ACPI).
    busybox reboot -f 2>/dev/null
    echo b > /proc/sysrq-trigger 2>/dev/null
    exit 1  # pid 1 exiting panics the kernel; panic=-1 reboots
}}
mnt() {{  # TYPE DIR OPTIONS: mount unless something is mounted there already
    mkdir -p "$2"
    mountpoint -q "$2" 2>/dev/null && return 0
    mount -t "$1" -o "$3" "$1" "$2" || fail "mount $1 on $2"
}}

mount -t proc -o nosuid,nodev,noexec proc /proc 2>/dev/null || mountpoint -q /proc || fail "mount proc"
mnt sysfs /sys nosuid,nodev,noexec
mnt devtmpfs /dev mode=0755,nosuid
exec </dev/null >/dev/console 2>&1
say "starting"
mnt devpts /dev/pts gid=5,mode=0620,ptmxmode=0666
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
for n in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
    [ -e "/dev/${{n%%:*}}" ] || ln -s "${{n#*:}}" "/dev/${{n%%:*}}"
done
mnt tmpfs /dev/shm mode=1777,nosuid,nodev
mnt tmpfs /run mode=0755,nosuid,nodev
mnt tmpfs /tmp mode=1777,nosuid,nodev
mkdir -p -m 0755 /run/sshd /run/devbench
mkdir -p /data/local/tmp && chmod 1777 /data/local/tmp

read -r NAME < /etc/hostname || NAME=devbench-guest
echo "$NAME" > /proc/sys/kernel/hostname

ip link set lo up || fail "ip link set lo up"
IF=
for d in /sys/class/net/*; do
    n=${{d##*/}}
    [ "$n" = lo ] && continue
    IF=$n
    break
done
[ -n "$IF" ] || fail "no network interface (virtio-net driver missing?)"
ip addr add {address}/24 dev "$IF" || fail "ip addr add {address}/24 dev $IF"
ip link set "$IF" up || fail "ip link set $IF up"

# the daemons to start: the kernel argument {daemons_arg}=adbd[,sshd] (default: both)
daemons_of() {{  # FILE (the kernel command line)
    d=adbd,sshd
    set -f
    for a in $(cat "$1"); do
        case "$a" in {daemons_arg}=*) d=${{a#{daemons_arg}=}} ;; esac
    done
    set +f
    echo "$d"
}}
DAEMONS=$(daemons_of /proc/cmdline)
SSHD= ADBD=
case ",$DAEMONS," in *,sshd,*)
    {sshd} -D -e -f /etc/ssh/devbench_sshd_config >/run/devbench/sshd.log 2>&1 &
    SSHD=$! ;;
esac
case ",$DAEMONS," in *,adbd,*)
    ADBD_PORT={adb_port} {adbd} >/run/devbench/adbd.log 2>&1 &
    ADBD=$! ;;
esac
[ -n "$SSHD$ADBD" ] || fail "no daemon to start ({daemons_arg}=$DAEMONS; adbd, sshd)"

i=0
while :; do
    s=x a=x
    [ -z "$SSHD" ] || s=$(ss -Hltn "sport = :{ssh_port}" 2>/dev/null)
    [ -z "$ADBD" ] || a=$(ss -Hltn "sport = :{adb_port}" 2>/dev/null)
    [ -n "$s" ] && [ -n "$a" ] && break
    [ -z "$SSHD" ] || kill -0 "$SSHD" 2>/dev/null || fail "sshd exited"
    [ -z "$ADBD" ] || kill -0 "$ADBD" 2>/dev/null || fail "adbd exited"
    i=$((i + 1))
    [ "$i" -ge {wait_steps} ] || {{ sleep 0.25; continue; }}
    [ -n "$s" ] || fail "sshd not listening on port {ssh_port}"
    fail "adbd not listening on port {adb_port}"
done
say "$IF {address} sshd pid ${{SSHD:-none}} adbd pid ${{ADBD:-none}}"
echo "{ready}"
# pid 1: reap every child and orphan, forever (wait blocks while a daemon runs).
while :; do
    wait
    sleep 1
done
"""

_SSHD_WAIT_S = 120  # the guest's own bounded wait for sshd and adbd to listen


def guest_init_script() -> str:
    return GUEST_INIT.format(path=_PATH, sshd=SSHD_PATH, adbd=ADBD_PATH, adb_port=GUEST_ADB_PORT,
                             ssh_port=GUEST_SSH_PORT, address=GUEST_ADDRESS, ready=READY_MARKER,
                             failed=FAILED_MARKER, wait_steps=_SSHD_WAIT_S * 4, daemons_arg=DAEMONS_ARG)


def guest_sshd_config() -> str:
    return SSHD_CONFIG.format(port=GUEST_SSH_PORT, address="0.0.0.0")


def qemu_cache_root() -> Path:
    """``$DEVBENCH_CACHE/qemu``, else ``$XDG_CACHE_HOME/devbench/qemu``, else ``~/.cache/devbench/qemu``."""
    return cache_root().parent / "qemu"


@dataclass(frozen=True)
class GuestImage:
    """A built guest image and the SSH material that goes with it."""

    arch: str
    image: Path
    client_key: Path        # private key; its public half is in the image's authorized_keys
    host_public_key: str    # "ssh-ed25519 AAAA... comment" of the guest's sshd
    size_bytes: int

    @classmethod
    def from_image(cls, image: Path) -> GuestImage:
        d = Path(image).parent
        info = json.loads((d / "info.json").read_text())
        return cls(arch=info["arch"], image=Path(image), client_key=d / "id_ed25519",
                   host_public_key=(d / "ssh_host_ed25519_key.pub").read_text().strip(),
                   size_bytes=int(info["size_bytes"]))


def _key(arch: str, rootfs: Path) -> str:
    marker = marker_path(rootfs)
    ident = marker.read_text() if marker.is_file() else ""
    h = hashlib.sha256(json.dumps([_IMAGE_FORMAT, arch, str(rootfs.resolve()), ident,
                                   guest_init_script(), guest_sshd_config()]).encode())
    return h.hexdigest()[:12]


def guest_image_info(arch: str, cache_dir: Path | None = None, rootfs: Path | None = None) -> GuestImage:
    """Build (once) and return the guest image of ``arch`` ("x86_64" or "arm64")."""
    if arch not in ARCHES:
        raise QemuError("image", f"unknown guest arch {arch!r} (x86_64 or arm64)")
    if rootfs is None:
        try:
            rootfs = ensure_rootfs(arch=ARCHES[arch])
        except Exception as e:  # noqa: BLE001 - LabError and whatever the build raises
            raise QemuError("image", f"no {ARCHES[arch]} lab rootfs: {e}") from e
    rootfs = Path(rootfs)
    base = Path(cache_dir) if cache_dir is not None else qemu_cache_root()
    final = base / f"guest-{arch}-{_key(arch, rootfs)}"
    if not is_complete(final):
        with building(final) as needed:
            if needed:
                _build(final, arch, rootfs)
    return GuestImage.from_image(final / IMAGE_NAME)


def guest_image(arch: str, cache_dir: Path | None = None, rootfs: Path | None = None) -> Path:
    """Path of the cached ext4 guest image of ``arch`` (built on first use)."""
    return guest_image_info(arch, cache_dir, rootfs).image


# -- build -------------------------------------------------------------------------------------

def _build(final: Path, arch: str, rootfs: Path) -> None:
    for tool in ("mke2fs", "cp"):
        if shutil.which(tool) is None:
            raise QemuError("image", f"{tool} is not installed (apt-get install e2fsprogs)")
    t0 = time.monotonic()
    tmp = fresh_tmp(final)
    try:
        stage = tmp / "stage"
        staged_with = _stage(rootfs, stage)
        host_pub, client_key = _add_guest_files(stage, tmp, arch)
        used, entries = _usage(stage)
        size = _round_mib(int(used * 1.3) + 256 * 2**20)
        inodes = max(2 * entries, 65536)
        image = tmp / IMAGE_NAME
        cmd = ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "devbench-root", "-d", str(stage), "-m", "0",
               "-N", str(inodes), "-E", "lazy_itable_init=0,lazy_journal_init=0",
               str(image), f"{size // 1024}k"]
        log = tmp / "build.log"
        # no total time limit (its duration is the machine's load): fails when it stops progressing
        problem = watched_failure(cmd, log, "mke2fs")
        if problem:
            raise QemuError("image", problem)
        shutil.rmtree(stage)
        os.chmod(image, 0o444)
        info = {"arch": arch, "rootfs": str(rootfs), "format": _IMAGE_FORMAT, "size_bytes": size,
                "allocated_bytes": image.stat().st_blocks * 512, "rootfs_bytes": used, "inodes": inodes,
                "staged_with": staged_with, "build_seconds": round(time.monotonic() - t0, 1),
                "built_at": time.time(), "host_public_key": host_pub, "client_key": client_key.name}
        (tmp / "info.json").write_text(json.dumps(info, indent=1) + "\n")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mark_complete(final, {"built_at": time.time()})


def _stage(rootfs: Path, stage: Path) -> str:
    """Hardlink tree of the rootfs (copy when hardlinks are impossible); returns how."""
    cp = subprocess.run(["cp", "-al", str(rootfs), str(stage)], capture_output=True, text=True)
    if cp.returncode == 0:
        return "hardlinks"
    shutil.rmtree(stage, ignore_errors=True)
    cp2 = subprocess.run(["cp", "-a", "--reflink=auto", str(rootfs), str(stage)], capture_output=True, text=True)
    if cp2.returncode != 0:
        raise QemuError("image", f"cannot stage {rootfs}: {cp.stderr.strip()[-200:]}; {cp2.stderr.strip()[-200:]}")
    return "copy"


def _inside(stage: Path, rel: str) -> Path:
    """STAGE/rel with its parent resolved inside the stage (a symlink in the rootfs must not
    lead a write onto the host)."""
    path = stage / rel.lstrip("/")
    parent = path.parent.resolve()
    root = stage.resolve()
    if parent != root and root not in parent.parents:
        raise QemuError("image", f"{rel} resolves outside the staging tree ({parent})")
    return parent / path.name


def _put(stage: Path, rel: str, text: str, mode: int) -> None:
    """Write a file into the stage. An existing file may be a hardlink into the cached
    rootfs: unlink it first, never write through it."""
    path = _inside(stage, rel)
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _mkdir(stage: Path, rel: str, mode: int) -> None:
    path = _inside(stage, rel)
    path.mkdir(exist_ok=True)
    os.chmod(path, mode)  # directories of the stage are new (cp -al links only files)


def _add_guest_files(stage: Path, outdir: Path, arch: str) -> tuple[str, Path]:
    _mkdir(stage, "root", 0o700)
    _mkdir(stage, "root/.ssh", 0o700)
    for rel, mode in (("data", 0o771), ("data/local", 0o751), ("data/local/tmp", 0o1777)):
        _mkdir(stage, rel, mode)
    # keys: generated once per image; the private host key only lives in the image
    keydir = outdir / "keys-tmp"
    keydir.mkdir(mode=0o700)
    host_pub = write_ed25519(keydir / "host", f"root@devbench-{arch}")
    client_key = outdir / "id_ed25519"
    client_pub = write_ed25519(client_key, "devbench-qemu-client")
    _put(stage, "etc/ssh/devbench_host_ed25519_key", (keydir / "host").read_text(), 0o600)
    _put(stage, "etc/ssh/devbench_host_ed25519_key.pub", host_pub + "\n", 0o644)
    (outdir / "ssh_host_ed25519_key.pub").write_text(host_pub + "\n")
    shutil.rmtree(keydir)
    _put(stage, "root/.ssh/authorized_keys", client_pub + "\n", 0o600)
    _put(stage, "etc/ssh/devbench_sshd_config", guest_sshd_config(), 0o644)
    _put(stage, "usr/sbin/devbench-guest-init", guest_init_script(), 0o755)
    _put(stage, "etc/hostname", f"devbench-{arch.replace('_', '-')}\n", 0o644)
    return host_pub, client_key


def _usage(root: Path) -> tuple[int, int]:
    """(bytes allocated, number of entries) of a tree, each inode counted once."""
    seen: set[int] = set()
    used = 0
    entries = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            entries += 1
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            used += max(st.st_blocks * 512, 4096 if name in dirnames else 0)
    return used, entries


def _round_mib(n: int) -> int:
    mib = 2**20
    return (n + mib - 1) // mib * mib
