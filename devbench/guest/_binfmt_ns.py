"""Run a command with qemu-user registered in a PRIVATE binfmt_misc (never the host's).

Usage: python3 _binfmt_ns.py [--arch aarch64] [--interpreter PATH] [--mountpoint DIR] COMMAND [ARGS...]

Standalone (imports nothing from devbench), so it can run anywhere in a lab process chain.
Needs root (CAP_SETUID/CAP_SETGID/CAP_SYS_ADMIN in the initial user namespace) and Linux >= 6.7,
where binfmt_misc is per user namespace: an exec looks up the binfmt_misc instance of the
caller's user namespace, or of the nearest ancestor that has one (finally the host's).

What it does, in this process (so that it keeps its PID: it can be pid 1 of a pid namespace):

1. fork a helper child that calls ``unshare(CLONE_NEWUSER)`` and waits;
2. write the identity map ``0 0 4294967295`` to the child's ``uid_map`` and ``gid_map``
   (found as /proc/PID with the PID the child reads from /proc/self: in a pid namespace whose
   /proc is still the host's, that is not the PID fork() returned)
   (allowed because we are root in the parent namespace: every uid/gid keeps its meaning,
   files created inside are owned by the same uids outside);
3. ``setns()`` into the child's user namespace (we own it, so we get all capabilities in it),
   let the helper child exit and reap it;
4. ``unshare(CLONE_NEWNS)`` (a mount namespace owned by the new user namespace), make every
   mount private, mount a fresh ``binfmt_misc`` on DIR (default /proc/sys/fs/binfmt_misc):
   this creates the user namespace's own, empty instance;
5. write ``:qemu-aarch64:M::<magic>:<mask>:<interpreter>:FP`` to ``DIR/register``.
   F (fix binary) makes the kernel open the interpreter now, so it also works inside a
   chroot that has no qemu; P keeps argv[0];
6. exec COMMAND. Every descendant (also after chroot) inherits the user namespace and so
   the registration. The host's binfmt_misc instance is never touched.

Capabilities: processes keep full capabilities over their own user namespace and over
namespaces created after step 3 (e.g. the mount namespace of step 4), but have none over
namespaces owned by the initial user namespace (the network namespace from ``ip netns``,
a pid or uts namespace created earlier). So: no mknod of device nodes, no sysfs mount,
no bind() to ports below net.ipv4.ip_unprivileged_port_start of such a network namespace.
Exit status 125 if the setup fails (with a message on stderr).
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 0x4000, 1 << 18

# name, magic, mask (binfmt_misc decodes the \x escapes itself), from qemu's qemu-binfmt-conf.sh
BINFMTS = {
    "aarch64": ("qemu-aarch64",
                r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
                r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
}
DEFAULT_MOUNTPOINT = "/proc/sys/fs/binfmt_misc"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def registration(arch: str, interpreter: str) -> str:
    name, magic, mask = BINFMTS[arch]
    return f":{name}:M::{magic}:{mask}:{interpreter}:FP"


def enter_private_userns() -> None:
    """Steps 1-3: this process ends up in a new user namespace with the identity uid/gid map."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # helper child
        try:
            os.close(ready_r)
            os.close(done_w)
            rc = _libc.unshare(CLONE_NEWUSER)
            # our PID as the mounted /proc sees it (it may belong to an ancestor pid namespace)
            os.write(ready_w, f"u{os.readlink('/proc/self')}".encode() if rc == 0
                     else f"e{ctypes.get_errno()}".encode())
            os.read(done_r, 1)  # EOF when the parent is done with our namespace
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        msg = os.read(ready_r, 32).decode()
        if not msg.startswith("u"):
            err = int(msg[1:] or "0")
            raise OSError(err, f"unshare(CLONE_NEWUSER): {os.strerror(err)}")
        proc = f"/proc/{int(msg[1:])}"
        for name in ("uid_map", "gid_map"):
            try:
                with open(f"{proc}/{name}", "w") as f:
                    f.write("0 0 4294967295\n")
            except OSError as e:
                raise OSError(e.errno, f"write {proc}/{name}: {e.strerror}") from e
        fd = os.open(f"{proc}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWUSER), "setns(user)")
        finally:
            os.close(fd)
    finally:
        os.close(done_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def private_binfmt(arch: str, interpreter: str, mountpoint: str = DEFAULT_MOUNTPOINT) -> None:
    """Steps 4-5 (after :func:`enter_private_userns`)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _check(_libc.mount(b"binfmt_misc", mountpoint.encode(), b"binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
           f"mount binfmt_misc on {mountpoint}")
    try:
        with open(os.path.join(mountpoint, "register"), "wb", buffering=0) as f:
            f.write(registration(arch, interpreter).encode())
    except OSError as e:
        raise OSError(e.errno, f"register {arch} in {mountpoint}: {e.strerror}") from e
    name = BINFMTS[arch][0]
    with open(os.path.join(mountpoint, name)) as f:
        if f.readline().strip() != "enabled":
            raise OSError(0, f"{name} registered but not enabled")


def main(argv: list[str]) -> int:
    arch, interpreter, mountpoint = "aarch64", None, DEFAULT_MOUNTPOINT
    args = list(argv)
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--":
            break
        if not args:
            print(f"_binfmt_ns: {opt} needs a value", file=sys.stderr)
            return 125
        val = args.pop(0)
        if opt == "--arch":
            arch = val
        elif opt == "--interpreter":
            interpreter = val
        elif opt == "--mountpoint":
            mountpoint = val
        else:
            print(f"_binfmt_ns: unknown option {opt}", file=sys.stderr)
            return 125
    if not args:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 125
    if arch not in BINFMTS:
        print(f"_binfmt_ns: unsupported arch {arch!r} (known: {', '.join(BINFMTS)})", file=sys.stderr)
        return 125
    interpreter = interpreter or f"/usr/bin/qemu-{arch}-static"
    try:
        if not os.access(interpreter, os.X_OK):
            raise OSError(0, f"interpreter {interpreter} missing (apt-get install qemu-user-static)")
        enter_private_userns()
        private_binfmt(arch, interpreter, mountpoint)
    except (OSError, KeyError) as e:
        print(f"_binfmt_ns: cannot set up a private binfmt_misc: {e}", file=sys.stderr)
        return 125
    try:
        os.execvp(args[0], args)
    except OSError as e:
        print(f"_binfmt_ns: exec {args[0]}: {e}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
