"""LabDevice: a real adbd and sshd from the lab rootfs in a network namespace of their own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devbench.guest import procs
from devbench.guest.errors import LabError
from devbench.guest.guard import Interface, TrafficGuard
from devbench.guest.keys import known_hosts_lines, write_ed25519
from devbench.guest.rootfs import ADBD_PATH, SSHD_PATH, ensure_rootfs
from devbench.guest.sshd import SSHD_CONFIG, SshEndpoint

from . import sysctls
from .netns import Netns, create_netns, run_ip

_NOVSOCK = Path(__file__).with_name("_novsock.py")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Runs as pid 1 of the new pid namespace, in the new mount namespace (propagation private),
# before the chroot: every mount below dies with the namespace.
_MOUNT_SCRIPT = r"""
set -eu
M=$1 LOWER=$2 UPPER=$3 WORK=$4 HOST=$5
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
# The device shares this machine's kernel and its root is real root: of the kernel's settings
# it may write only the three sysctls devbench changes and restores (the lab tests check they
# come back); the rest of /proc/sys (core_pattern, modprobe, ...) and sysrq-trigger are
# read-only. The writable three are bound from this namespace's own /proc (a bind from the
# read-only mount would be read-only too).
mount --bind "$M/proc/sys" "$M/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$M/proc/sys"
for f in vm/max_map_count kernel/kptr_restrict kernel/perf_event_paranoid; do
  mount --bind "/proc/sys/$f" "$M/proc/sys/$f"
done
if [ -e "$M/proc/sysrq-trigger" ]; then  # (a kernel without MAGIC_SYSRQ has none)
  mount --bind "$M/proc/sysrq-trigger" "$M/proc/sysrq-trigger"
  mount -o remount,bind,ro "$M/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
mount -t tmpfs -o mode=755,nosuid,size=1m tmpfs "$M/dev"
mknod -m 666 "$M/dev/null" c 1 3
mknod -m 666 "$M/dev/zero" c 1 5
mknod -m 666 "$M/dev/full" c 1 7
mknod -m 666 "$M/dev/random" c 1 8
mknod -m 666 "$M/dev/urandom" c 1 9
mknod -m 666 "$M/dev/tty" c 5 0
mkdir -m 755 "$M/dev/pts"
mkdir -m 1777 "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"
ln -s /proc/self/fd/1 "$M/dev/stdout"
ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$M/run"
mkdir -m 755 "$M/run/sshd"
hostname "$HOST"
exec chroot "$M" /sbin/devbench-init
"""

_CHROOT_LINE = 'exec chroot "$M" /sbin/devbench-init'
_OLD_ROOT = ".devbench-oldroot"
# The native device's last step: the overlay becomes the root of the device's mount namespace,
# and this machine's root file system, mounted below it for a moment, is unmounted by the
# device's init. With a plain chroot the namespace's root stayed this machine's /, which a
# root with CAP_SYS_CHROOT leaves with two chroot calls.
_PIVOT_LINES = f"""cd "$M"
mkdir -p "$M/{_OLD_ROOT}"
pivot_root . {_OLD_ROOT}
exec chroot . /sbin/devbench-init"""

# Capabilities the device's processes never get (dropped from the bounding set before the
# device's init runs, so adbd's and sshd's root lack them): the ones that let root out of the
# device onto this machine's kernel and files. CAP_SYS_ADMIN: remount /proc/sys read-write,
# mount a new proc or the host's binfmt_misc, and (the kernel's rule) write kernel.kptr_restrict;
# SYS_MODULE, SYS_RAWIO (/dev/mem, /proc/kcore), BPF (programs that write other processes'
# memory), DAC_READ_SEARCH (open_by_handle_at: any file of a file system by its handle),
# MKNOD, SYS_BOOT, SYS_TIME, MAC_*, AUDIT_CONTROL, LINUX_IMMUTABLE, SYS_PACCT; PERFMON (perf
# events of every process on this machine's kernel: devbench's own profiling in the device
# works through kernel.perf_event_paranoid, which it sets and restores). Kept: what sshd needs
# (SYS_CHROOT, SETUID, ...) and SYSLOG (kernel symbols for perf). The device also has an IPC
# namespace of its own (unshare --ipc): no System V shared memory or semaphores of this machine.
DROPPED_CAPS = ("sys_admin", "sys_module", "sys_rawio", "bpf", "dac_read_search", "mknod", "sys_boot", "sys_time",
                "mac_admin", "mac_override", "audit_control", "linux_immutable", "sys_pacct", "perfmon")

# Inside the new root: pid 1, reaps everything. Its first pass unmounts this machine's root
# (the native device's pivot_root) and re-runs itself with the capabilities above dropped.
_INIT_SCRIPT = """#!/bin/sh
export PATH={path} HOME=/root LANG=C.UTF-8
cd /
if [ "${{1:-}}" != --confined ]; then
  if [ -d /{old_root} ]; then umount -l /{old_root} && rmdir /{old_root} || exit 1; fi
  exec setpriv --bounding-set -{caps} -- /sbin/devbench-init --confined
fi
{sshd} -D -e -f /etc/ssh/devbench_sshd_config &
ADBD_PORT={adb_port} {adbd} &
wait
"""



def native_mount_script() -> str:
    """The mount script with pivot_root before the chroot (the native device)."""
    if _MOUNT_SCRIPT.count(_CHROOT_LINE) != 1:
        raise LabError("device", "the mount script changed: cannot insert the pivot_root step")
    return _MOUNT_SCRIPT.replace(_CHROOT_LINE, _PIVOT_LINES)


class LabDevice:
    """One lab device. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    sshd listens on ``ssh_port`` (default 2222, so the known_hosts line ``[ADDR]:2222 ...``
    is the one form OpenSSH and paramiko look up; with port 22 they look up the bare address,
    and known_hosts then holds both forms).
    The shared rootfs is the read-only lower layer of a private overlayfs (upper and work
    dirs in this device's temp dir), so files written on one device never appear on another.
    """

    def __init__(self, root: Path | None = None, *, name: str | None = None, ssh_port: int = 2222,
                 adb_port: int = 5555, ready_timeout: float = 15.0) -> None:
        self.root: Path | None = Path(root) if root is not None else None
        self.name = name
        self.adb_port = adb_port
        self.ssh_port = ssh_port
        self.ssh_user = "root"
        self.ready_timeout = ready_timeout
        self.netns: str | None = None
        self.address: str | None = None
        self.host_address: str | None = None
        self.workdir: Path | None = None
        self.ssh_key: Path | None = None
        self.known_hosts: Path | None = None
        self.host_key_line: str | None = None
        self.log: Path | None = None
        self._procs: list[procs.ProcId] = []  # the device's processes at start, by PID and start time
        self.startup_seconds: float | None = None
        self._ns: Netns | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.guard: TrafficGuard | None = None  # only root's sockets reach the device (devbench.guest.guard)
        self.sysctls_at_start: dict[str, str] = {}  # the kernel settings it may write, put back at stop

    # -- properties --------------------------------------------------------------------------
    @property
    def adb_serial(self) -> str:
        if self.address is None:
            raise LabError("device", "not started")
        return f"{self.address}:{self.adb_port}"

    def ssh(self) -> SshEndpoint:
        if self.address is None or self.ssh_key is None or self.known_hosts is None:
            raise LabError("device", "not started")
        return SshEndpoint(self.address, self.ssh_port, self.ssh_user, self.ssh_key, self.known_hosts)

    @property
    def pids(self) -> list[int]:
        """PIDs of the device's processes when it became ready (launcher, init, adbd, sshd)."""
        return [p.pid for p in self._procs]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def describe(self) -> dict[str, object]:
        """JSON-friendly description of how to reach this device."""
        return {
            "name": self.name, "netns": self.netns, "adb_serial": self.adb_serial,
            "address": self.address, "host_address": self.host_address,
            "ssh": {"host": self.address, "port": self.ssh_port, "user": self.ssh_user,
                    "key": str(self.ssh_key), "known_hosts": str(self.known_hosts)},
            "root": str(self.root), "pids": self.pids, "log": str(self.log),
            "guard": self.guard.table if self.guard else None,
        }

    def set_link(self, up: bool) -> None:
        """Fault injection: the device's side of its network link down (silence, no FIN or RST:
        a pulled cable) or up again (its address and route come back with it)."""
        if self._ns is None:
            raise LabError("device", "not started")
        run_ip("-n", self._ns.name, "link", "set", self._ns.dev_if, "up" if up else "down", step="link")

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LabDevice:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> LabDevice:
        if self._proc is not None:
            raise LabError("device", "already started")
        t0 = time.monotonic()
        self.sysctls_at_start = sysctls.snapshot()
        try:
            if self.root is None:
                self.root = ensure_rootfs()
            self.workdir = Path(tempfile.mkdtemp(prefix="devbench-lab-"))
            self._ns = create_netns()
            self.netns = self._ns.name
            self.address, self.host_address = self._ns.address, self._ns.host_address
            if self.name is None:
                self.name = f"lab{self._ns.index}"
            # before adbd listens: from the first moment, no other user of this machine reaches it
            self.guard = TrafficGuard([Interface(self._ns.host_if)], tag=f"dev{self._ns.index}").start()
            self._prepare_files()
            self._launch()
            self.wait_ready(self.ready_timeout)
            self._procs = [p for p in map(procs.identify, procs.tree(self._proc.pid)) if p] if self._proc else []
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _prepare_files(self) -> None:
        assert self.workdir and self.address
        w = self.workdir
        upper = w / "upper"
        for d in ("upper", "work", "merged", "keys"):
            (w / d).mkdir(mode=0o700)
        # Device-side files go straight into the overlay's upper layer.
        (upper / "etc" / "ssh").mkdir(mode=0o755, parents=True)
        (upper / "sbin").mkdir(mode=0o755)
        (upper / "root" / ".ssh").mkdir(mode=0o700, parents=True)
        os.chmod(upper / "root", 0o700)
        (upper / "data" / "local" / "tmp").mkdir(parents=True)
        os.chmod(upper / "data", 0o771)
        os.chmod(upper / "data" / "local", 0o751)
        os.chmod(upper / "data" / "local" / "tmp", 0o1777)
        host_pub = write_ed25519(upper / "etc" / "ssh" / "devbench_host_ed25519_key", f"root@{self.name}")
        self.ssh_key = w / "keys" / "id_ed25519"
        client_pub = write_ed25519(self.ssh_key, "devbench-lab-client")
        ak = upper / "root" / ".ssh" / "authorized_keys"
        ak.write_text(client_pub + "\n")
        os.chmod(ak, 0o600)
        (upper / "etc" / "ssh" / "devbench_sshd_config").write_text(
            SSHD_CONFIG.format(port=self.ssh_port, address=self.address))
        init = upper / "sbin" / "devbench-init"
        init.write_text(_INIT_SCRIPT.format(path=_PATH, sshd=SSHD_PATH, adbd=ADBD_PATH, adb_port=self.adb_port,
                                            old_root=_OLD_ROOT, caps=",-".join(DROPPED_CAPS)))
        os.chmod(init, 0o755)
        (upper / "etc" / "hostname").write_text(f"{self.name}\n")
        self.host_key_line = host_pub
        self.known_hosts = w / "keys" / "known_hosts"
        self.known_hosts.write_text("\n".join(known_hosts_lines(self.address, self.ssh_port, host_pub)) + "\n")
        self.log = w / "device.log"

    def _launch(self) -> None:
        assert self.workdir and self.root and self.netns and self.log
        w = self.workdir
        cmd = [sys.executable, str(_NOVSOCK),
               "ip", "netns", "exec", self.netns,
               "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child", "--propagation", "private",
               "/bin/sh", "-c", native_mount_script(), "devbench-lab-mount",
               str(w / "merged"), str(self.root), str(w / "upper"), str(w / "work"), str(self.name)]
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env={"PATH": _PATH, "LANG": "C.UTF-8"}, start_new_session=True,
                                          close_fds=True)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log else ""
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until adbd and sshd accept TCP connections on the device address."""
        if self.address is None or self._proc is None:
            raise LabError("ready", "not started")
        deadline = time.monotonic() + timeout
        pending = {"adbd": self.adb_port, "sshd": self.ssh_port}
        while pending:
            if self._proc.poll() is not None:
                raise LabError("ready", f"device exited with {self._proc.returncode}; log:\n{self._log_tail()}")
            for what, port in list(pending.items()):
                try:
                    with socket.create_connection((self.address, port), timeout=0.5):
                        del pending[what]
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                raise LabError("ready", f"{', '.join(pending)} not listening on {self.address} after {timeout} s; "
                                        f"log:\n{self._log_tail()}")
            if pending:
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGKILL the device's process tree, delete its namespace and temp dir. Idempotent."""
        errors: list[str] = []
        if self._proc is not None:
            left = procs.kill_tree(self._proc.pid, self._procs)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                errors.append(f"launcher {self._proc.pid} did not exit")
            if left:
                errors.append(f"processes still alive after SIGKILL: {left}")
            self._proc = None
        if self.workdir is not None:
            errors.extend(_unmount_under(self.workdir))
        if self._ns is not None:
            try:
                self._ns.delete()
                self._ns = None
            except LabError as e:
                errors.append(e.detail)
        if self.guard is not None and errors:  # something of the device may still be there: keep it guarded
            errors.append(f"nftables table {self.guard.table} kept (the device is not fully stopped)")
        elif self.guard is not None:  # after the namespace: never a moment of an unguarded device
            try:
                self.guard.stop()
                self.guard = None
            except LabError as e:
                errors.append(e.detail)
        if self.sysctls_at_start:  # a run killed mid-way could not restore what it set: the lab does
            sysctls.put_back(self.sysctls_at_start, device=self.name or "lab device")
            self.sysctls_at_start = {}
        if self.workdir is not None and not errors:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if errors:
            raise LabError("stop", "; ".join(errors))


def _unmount_under(path: Path) -> list[str]:
    """Unmount (lazily) anything mounted under ``path`` in this mount namespace.

    Normally nothing is: the device's mounts live in its own mount namespace and die with it.
    """
    errors = []
    prefix = str(path.resolve())
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix + "/"):
                mounts.append(mp)
    for mp in sorted(mounts, key=len, reverse=True):
        cp = subprocess.run(["umount", "-l", mp], capture_output=True, text=True)
        if cp.returncode != 0:
            errors.append(f"umount {mp}: {cp.stderr.strip()}")
    return errors
