"""Run a command with socket(AF_VSOCK, ...) refused (EAFNOSUPPORT) by a seccomp filter.

Usage: python3 _novsock.py COMMAND [ARGS...]   (standalone: imports nothing from devbench)

adbd also listens on vsock; a lab device must only be reachable on its own network
namespace. The filter is inherited across fork and exec by every process of the device.
Only the host's native ABI is filtered (the lab runs 64-bit binaries; arm64 ones run
under qemu-user, whose syscalls are the host's). Without CAP_SYS_ADMIN the filter needs
no_new_privs, which is then set.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

AF_VSOCK = 40
EAFNOSUPPORT = 97
# (AUDIT_ARCH_*, __NR_socket) of the native ABI
_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    audit_arch, nr_socket = _ARCH[platform.machine()]
    # seccomp_data: int nr @0, u32 arch @4, u64 ip @8, u64 args[6] @16 (little endian: low word first)
    return b"".join([
        _insn(BPF_LD_W_ABS, 0, 0, 4),            # A = arch
        _insn(BPF_JEQ_K, 0, 4, audit_arch),      # not native -> allow
        _insn(BPF_LD_W_ABS, 0, 0, 0),            # A = nr
        _insn(BPF_JEQ_K, 0, 2, nr_socket),       # not socket() -> allow
        _insn(BPF_LD_W_ABS, 0, 0, 16),           # A = low 32 bits of args[0] (domain)
        _insn(BPF_JEQ_K, 1, 0, AF_VSOCK),        # AF_VSOCK -> errno
        _insn(BPF_RET_K, 0, 0, RET_ALLOW),
        _insn(BPF_RET_K, 0, 0, RET_ERRNO | EAFNOSUPPORT),
    ])


def install() -> None:
    code = program()
    n = len(code) // 8
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(n, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        if err != 13:  # EACCES: no CAP_SYS_ADMIN -> needs no_new_privs
            raise OSError(err, os.strerror(err))
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0 or \
                libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: _novsock.py COMMAND [ARGS...]")
    try:
        install()
    except (OSError, KeyError) as e:
        sys.exit(f"_novsock: cannot install the seccomp filter: {e!r}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
