"""This host, as QEMU's: its architecture, whether /dev/kvm really runs a guest, free loopback
ports, and whether the guest's adbd and sshd answer through them."""

from __future__ import annotations

import functools
import os
import platform
import socket
import struct
import subprocess
import sys

from .cmdline import QemuSpec
from .errors import QemuError

_HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

# -- KVM ---------------------------------------------------------------------------------------

def host_arch() -> str:
    return _HOST_ARCH.get(platform.machine(), platform.machine())


@functools.cache
def check_kvm(arch: str | None = None) -> bool:
    """True only if /dev/kvm really runs a guest of ``arch`` (default: the host's).

    A subprocess (bounded by a timeout) creates a VM with 16 KiB of memory, runs
    ``mov al, 42; hlt`` on a vCPU and checks that it exits with KVM_EXIT_HLT and rax=42.
    A paravirtual /dev/kvm that cannot run a normal guest fails this.
    """
    if arch is not None and _HOST_ARCH.get(arch, arch) != host_arch():
        return False
    if not os.path.exists("/dev/kvm"):
        return False
    try:
        cp = subprocess.run([sys.executable, "-m", "devbench.qemu._kvmprobe"], stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=15)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return cp.returncode == 0


def resolve_accel(spec: QemuSpec) -> str:
    """"tcg" or "kvm" for this spec; raises QemuError if kvm is required but does not work.
    Instruction counting (clock icount) is TCG's: "auto" then means tcg."""
    if spec.accel == "tcg" or spec.clock == "icount":
        return "tcg"
    works = check_kvm(spec.arch)
    if spec.accel == "kvm" and not works:
        raise QemuError("kvm", f"accel kvm asked, but /dev/kvm cannot run a {spec.arch} guest here")
    return "kvm" if works else "tcg"


# -- probes of the forwarded ports -------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _two_ports() -> tuple[int, int]:
    a = free_port()
    while True:
        b = free_port()
        if b != a:
            return a, b


_A_CNXN, _A_AUTH, _A_STLS = 0x4E584E43, 0x48545541, 0x534C5453


def adb_answers(port: int, timeout: float = 3.0) -> bool:
    """True if an adbd answers an adb CNXN on 127.0.0.1:port. (QEMU's user networking
    accepts every forwarded connection itself, so a bare TCP connect proves nothing.)"""
    payload = b"host::\0"
    hdr = struct.pack("<6I", _A_CNXN, 0x01000001, 256 * 1024, len(payload), sum(payload) & 0xFFFFFFFF,
                      _A_CNXN ^ 0xFFFFFFFF)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(hdr + payload)
            data = b""
            while len(data) < 4:
                chunk = s.recv(24 - len(data))
                if not chunk:
                    return False
                data += chunk
            return struct.unpack("<I", data[:4])[0] in (_A_CNXN, _A_AUTH, _A_STLS)
    except OSError:
        return False


def ssh_answers(port: int, timeout: float = 3.0) -> bool:
    """True if an SSH server sends its banner on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while b"\n" not in data and len(data) < 1024:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"SSH-")
    except OSError:
        return False
