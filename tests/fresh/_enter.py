"""Run a command inside a root file system, as a throw-away container (root only, Linux).

Usage: python3 _enter.py --lower DIR[:DIR...] --upper DIR --work DIR --mount DIR [--tmpfs DIR]
                         [--bind SRC:DST]... [--copy SRC:DST]... [--overlay SRC:DST]...
                         [--env NAME=VALUE]... -- COMMAND [ARGS...]

Standalone (imports nothing from devbench or the tests). What it does:

1. ``unshare(CLONE_NEWNS | CLONE_NEWPID)`` and fork: the child is PID 1 of a new PID
   namespace, so when it ends the kernel kills every process left in it (a daemon that
   apt or a test started cannot outlive the run); every mount lives in the new mount
   namespace and goes away with it (nothing to unmount afterwards);
2. the child makes every mount private, mounts a tmpfs on ``--tmpfs`` if given (the
   run's scratch: upper, work and mount folders go under it, and ``--copy`` folders are
   copied into it and bound at DST; all of it vanishes with the namespace, nothing to
   delete), mounts an overlayfs (``--lower`` read-only layers,
   ``--upper``/``--work`` the run's writable layer) on ``--mount``, a fresh /proc, the
   host's /sys and /dev (recursive binds), each ``--bind`` (DST inside the root), each
   ``--overlay`` (the host's SRC as the read-only lower of an overlayfs at DST inside the
   root, its writable layer beside the run's upper layer: the run reads a host folder such
   as a build cache and its writes go nowhere), and copies the host's /etc/resolv.conf;
3. ``pivot_root`` into it and detaches the old root (a chroot() would do, but inside a
   chroot the kernel refuses new user namespaces, which the lab's arm64 rootfs build uses);
4. exec COMMAND with only PATH, HOME, LANG and the ``--env`` values in its environment.

The parent waits and exits with the child's status (128+N if a signal N ended it).
Exit status 125 if the setup fails (with a message on stderr).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class SetupError(Exception):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(e)}")


def _mount(src: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {src} on {target}")


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def setup(args: argparse.Namespace) -> None:
    """In the new mount namespace: build the root and pivot into it."""
    m = args.mount
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    if args.tmpfs:
        _mount("tmpfs", args.tmpfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for d in (args.upper, args.work, m):
        os.makedirs(d, exist_ok=True)
    binds = list(args.bind)
    for n, spec in enumerate(args.copy):
        src, dst = spec.split(":", 1)
        if not args.tmpfs:
            raise SetupError("--copy needs --tmpfs")
        copy = os.path.join(args.tmpfs, f"copy-{n}")
        shutil.copytree(src, copy, symlinks=True)
        binds.append(f"{copy}:{dst}")
    _mount("overlay", m, "overlay", 0, f"lowerdir={args.lower},upperdir={args.upper},workdir={args.work}")
    for d in ("proc", "sys", "dev", ".oldroot"):
        os.makedirs(_inside(m, d), exist_ok=True)
    _mount("proc", _inside(m, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount("/sys", _inside(m, "sys"), None, MS_BIND | MS_REC)
    _mount("/dev", _inside(m, "dev"), None, MS_BIND | MS_REC)
    for spec in binds:
        src, dst = spec.split(":", 1)
        target = _inside(m, dst)
        os.makedirs(target, exist_ok=True)
        _mount(src, target, None, MS_BIND | MS_REC)
    for n, spec in enumerate(args.overlay):
        src, dst = spec.split(":", 1)
        top = os.path.join(args.tmpfs or os.path.dirname(os.path.abspath(args.upper)), f"overlay-{n}")
        upper, work = os.path.join(top, "upper"), os.path.join(top, "work")
        for d in (upper, work):
            os.makedirs(d, exist_ok=True)
        target = _inside(m, dst)
        os.makedirs(target, exist_ok=True)
        _mount("overlay", target, "overlay", 0, f"lowerdir={src},upperdir={upper},workdir={work}")
    etc = _inside(m, "etc")
    if os.path.isfile("/etc/resolv.conf"):
        resolv = _inside(m, "etc/resolv.conf")
        if os.path.islink(resolv) or os.path.exists(resolv):
            os.unlink(resolv)
        os.makedirs(etc, exist_ok=True)
        shutil.copyfile("/etc/resolv.conf", resolv)
    nr = SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise SetupError(f"pivot_root: unknown syscall number on {platform.machine()}")
    os.chdir(m)
    _check(_libc.syscall(nr, b".", b".oldroot"), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.oldroot", MNT_DETACH), "umount /.oldroot")
    os.rmdir("/.oldroot")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="_enter.py")
    ap.add_argument("--lower", required=True)
    ap.add_argument("--upper", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--mount", required=True)
    ap.add_argument("--tmpfs")
    ap.add_argument("--bind", action="append", default=[])
    ap.add_argument("--copy", action="append", default=[])
    ap.add_argument("--overlay", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--cwd", default="/")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command")
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
           "LANG": "C.UTF-8"}
    env.update(dict(e.split("=", 1) for e in args.env))
    try:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
    except SetupError as e:
        print(f"_enter.py: {e}", file=sys.stderr)
        return 125
    pid = os.fork()
    if pid == 0:  # PID 1 of the new PID namespace
        try:
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")  # dies with us
            setup(args)
            os.chdir(args.cwd)
            os.execvpe(cmd[0], cmd, env)
        except (SetupError, OSError) as e:
            print(f"_enter.py: {e}", file=sys.stderr)
            os._exit(125)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # pass them on to PID 1 (it ends the rest)
        signal.signal(sig, lambda n, _f: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 125
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
