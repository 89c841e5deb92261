"""Lab devices of a foreign architecture (arm64 on an x86_64 host) under qemu-user.

``EmulatedLabDevice(ensure_rootfs(arch="arm64"))`` is a :class:`LabDevice` whose adbd and
sshd are the rootfs's own aarch64 binaries, run by qemu-aarch64-static through a PRIVATE
binfmt_misc: the host's binfmt_misc instance is never changed. :func:`lab_device_for` picks
LabDevice or EmulatedLabDevice from the rootfs's architecture.

How (Linux >= 6.7, where binfmt_misc is per user namespace): the device's launcher is the
same as LabDevice's (seccomp filter without AF_VSOCK, ``ip netns exec``, ``unshare --mount
--uts --pid --fork``, the same mount script building the overlay, /proc, /dev, devpts,
tmpfs), except its last step. Instead of the native device's pivot_root and chroot it runs
``exec python3 _binfmt_ns.py --arch aarch64 --mountpoint $M/proc/sys/fs/binfmt_misc
sh -c 'mount --rbind $M $M; cd $M; pivot_root . .devbench-oldroot; exec chroot . /sbin/devbench-init'``:
still pid 1 of the device's pid namespace, that helper
enters a new user namespace with the identity uid/gid map, unshares the mount namespace,
mounts a fresh binfmt_misc (at the device's /proc/sys/fs/binfmt_misc, so it can be seen from
inside the device), registers ``qemu-aarch64`` with flags FP (the kernel opens the host's
qemu-aarch64-static at registration: nothing of qemu is needed in the rootfs) and execs
the pivot_root step (the device's init unmounts this machine's / and drops the same
capabilities as on a native device, see devlab.device). Every process of the device
inherits that user namespace.

Differences from a native device, all consequences of the user namespace (its processes have
no capabilities over the namespaces created before it, which the initial user namespace owns):

- the network namespace gets ``net.ipv4.ip_unprivileged_port_start=0`` (that namespace only),
  so that sshd can listen on a port below 1024 (``ssh_port=22``);
- inside the device, root cannot mknod, mount sysfs/proc, or change the hostname;
- qemu-user timings are not ARM timings: use it for correctness, not for numbers;
- perf cannot work (qemu-user does not emulate perf_event_open for the guest usefully).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from devbench.cache import marker_path
from devbench.guest.errors import LabError
from devbench.guest.rootfs import (
    _BINFMT_NS,  # noqa: E402
    ADBD_PATH,
    QEMU_ARCH,
    ensure_rootfs,
    native_arch,
    needs_emulation,
)

from .device import _CHROOT_LINE, _MOUNT_SCRIPT, _NOVSOCK, _OLD_ROOT, _PATH, LabDevice
from .netns import run_ip

_ELF_MACHINE = {0x3E: "amd64", 0xB7: "arm64"}


def rootfs_arch(root: Path) -> str:
    """Debian architecture of a lab rootfs: from its ``.complete`` marker, else from adbd's ELF header."""
    root = Path(root)
    try:
        arch = json.loads(marker_path(root).read_text()).get("arch")
        if isinstance(arch, str) and arch:
            return arch
    except (OSError, ValueError):
        pass
    for rel in (ADBD_PATH.lstrip("/"), "usr/bin/dash"):
        try:
            head = (root / rel).read_bytes()[:20]
        except OSError:
            continue
        if head[:4] == b"\x7fELF" and len(head) == 20:
            machine = int.from_bytes(head[18:20], "little")
            if machine in _ELF_MACHINE:
                return _ELF_MACHINE[machine]
    raise LabError("device", f"cannot tell the architecture of rootfs {root}")


def emulated_mount_script(arch: str) -> str:
    """LabDevice's mount script with its chroot step run through _binfmt_ns.py."""
    if _MOUNT_SCRIPT.count(_CHROOT_LINE) != 1:
        raise LabError("device", "LabDevice's mount script changed: cannot insert the private binfmt_misc step")
    # In the new user and mount namespaces, the overlay becomes the namespace's root
    # (pivot_root; the device's init unmounts this machine's / from under it): a chroot of
    # this machine's / was left with two chroot calls, and its root, mapped to uid 0, then
    # owned this machine's files.
    # (The overlay, mounted before the user namespace, is locked in it: pivot_root refuses a
    # locked new root, so it goes to a recursive bind of itself made in the namespace.)
    enter = (f'mount --rbind "$1" "$1" && cd "$1" && mkdir -p {_OLD_ROOT} && pivot_root . {_OLD_ROOT} '
             '&& exec chroot . /sbin/devbench-init')
    helper = (f"exec {shlex.quote(sys.executable)} {shlex.quote(str(_BINFMT_NS))} --arch {QEMU_ARCH[arch]} "
              f'--mountpoint "$M/proc/sys/fs/binfmt_misc" /bin/sh -c {shlex.quote(enter)} devbench-lab-enter "$M"')
    return _MOUNT_SCRIPT.replace(_CHROOT_LINE, helper)


class EmulatedLabDevice(LabDevice):
    """A LabDevice whose rootfs is of a foreign architecture (``arch``, default arm64), run
    under qemu-user with a private binfmt_misc. Same API as LabDevice; ``ready_timeout``
    defaults to 60 s (adbd and sshd start in about 1 to 3 s under qemu, more on a busy host).
    """

    def __init__(self, root: Path | None = None, *, arch: str = "arm64", ready_timeout: float = 60.0,
                 **kwargs: object) -> None:
        if arch not in QEMU_ARCH:
            raise LabError("device", f"no qemu-user support for arch {arch!r} (known: {', '.join(QEMU_ARCH)})")
        super().__init__(root, ready_timeout=ready_timeout, **kwargs)  # type: ignore[arg-type]
        self.arch = arch

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "arch": self.arch, "emulated": True}

    def start(self) -> EmulatedLabDevice:
        if self.root is None and self._proc is None:
            self.root = ensure_rootfs(arch=self.arch)
        qemu = f"/usr/bin/qemu-{QEMU_ARCH[self.arch]}-static"
        try:
            with open(qemu, "rb"):
                pass
        except OSError as e:
            raise LabError("device", f"{qemu} missing (apt-get install qemu-user-static): {e}") from e
        super().start()
        return self

    def _launch(self) -> None:
        assert self.workdir and self.root and self.netns and self.log
        # Our processes live in a child user namespace: no CAP_NET_BIND_SERVICE over this
        # network namespace (owned by the initial one). Let them bind any port, here only.
        run_ip("netns", "exec", self.netns, "sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0",
               step="netns")
        w = self.workdir
        cmd = [sys.executable, str(_NOVSOCK),
               "ip", "netns", "exec", self.netns,
               "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child", "--propagation", "private",
               "/bin/sh", "-c", emulated_mount_script(self.arch), "devbench-lab-mount",
               str(w / "merged"), str(self.root), str(w / "upper"), str(w / "work"), str(self.name)]
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env={"PATH": _PATH, "LANG": "C.UTF-8"}, start_new_session=True,
                                          close_fds=True)


def lab_device_for(root: Path, **kwargs: object) -> LabDevice:
    """LabDevice for a native rootfs, EmulatedLabDevice for a foreign one (by :func:`rootfs_arch`)."""
    arch = rootfs_arch(root)
    if arch == native_arch():
        return LabDevice(root, **kwargs)  # type: ignore[arg-type]
    if not needs_emulation(arch):
        raise LabError("device", f"rootfs {root} is {arch}: neither native ({native_arch()}) nor emulated")
    return EmulatedLabDevice(root, arch=arch, **kwargs)


def emulation_usable(arch: str = "arm64") -> str | None:
    """None if foreign ``arch`` lab rootfs and devices can run here, else the reason why not."""
    if arch not in QEMU_ARCH:
        return f"no qemu-user support for {arch!r}"
    qemu = f"/usr/bin/qemu-{QEMU_ARCH[arch]}-static"
    if not Path(qemu).is_file():
        return f"{qemu} missing (apt-get install qemu-user-static)"
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        major = minor = 0
    if (major, minor) < (6, 7):
        return f"kernel {os.uname().release} < 6.7 has no per-user-namespace binfmt_misc"
    return None


def host_binfmt_entries() -> list[str]:
    """Names in the HOST's binfmt_misc instance (without register/status), read through a
    throw-away mount in a private mount namespace of the initial user namespace: the host's
    own mounts are not changed. Needs root."""
    script = ("mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && "
              "ls -1 /proc/sys/fs/binfmt_misc")
    cp = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if cp.returncode != 0:
        raise LabError("binfmt", f"cannot read the host's binfmt_misc: {cp.stderr.strip()}")
    return sorted(n for n in cp.stdout.split() if n not in ("register", "status"))
