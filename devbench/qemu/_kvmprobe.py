"""``python -m devbench.qemu._kvmprobe``: exit 0 only if /dev/kvm runs a real guest.

x86_64: the CPU must have hardware virtualisation (vmx or svm in /proc/cpuinfo: a
paravirtual /dev/kvm without it runs a BIOS but not a Linux guest, "emulation failure"),
and a VM with 16 KiB of memory, one vCPU in real mode at 0x1000 running
``mov al, 42; hlt``; success is KVM_EXIT_HLT with al == 42. Other hosts: a VM and a vCPU
can be created (weaker; devbench's guests are x86_64 on x86_64 hosts in practice).
Run it in a subprocess with a timeout: a broken KVM may hang in KVM_RUN.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import platform
import struct
import sys

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46
KVM_RUN = 0xAE80
KVM_GET_REGS = 0x8090AE81
KVM_SET_REGS = 0x4090AE82
KVM_GET_SREGS = 0x8138AE83
KVM_SET_SREGS = 0x4138AE84
KVM_EXIT_HLT = 5
_MEM = 0x4000


def _hw_virt() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "vmx" in flags or "svm" in flags
    except OSError:
        pass
    return False


def probe() -> str:
    """"" if KVM works, else why not."""
    try:
        kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"open /dev/kvm: {e}"
    try:
        if fcntl.ioctl(kvm, KVM_GET_API_VERSION, 0) != 12:
            return "unexpected KVM API version"
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        if platform.machine() == "x86_64" and not _hw_virt():
            return "the CPU has no hardware virtualisation (no vmx/svm flag): /dev/kvm cannot run a Linux guest"
        if platform.machine() != "x86_64":
            fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
            return ""
        mem = mmap.mmap(-1, _MEM, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                        prot=mmap.PROT_READ | mmap.PROT_WRITE)
        code = bytes([0xB0, 42, 0xF4])  # mov al, 42; hlt
        mem[0x1000:0x1000 + len(code)] = code
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION, struct.pack("<IIQQQ", 0, 0, 0, _MEM, addr))
        vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
        size = fcntl.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)
        run = mmap.mmap(vcpu, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        sregs = bytearray(312)
        fcntl.ioctl(vcpu, KVM_GET_SREGS, sregs, True)
        struct.pack_into("<QIH", sregs, 0, 0, 0xFFFF, 0)  # cs: base 0, limit 64K, selector 0
        fcntl.ioctl(vcpu, KVM_SET_SREGS, bytes(sregs))
        regs = [0] * 18
        regs[16], regs[17] = 0x1000, 0x2  # rip, rflags
        fcntl.ioctl(vcpu, KVM_SET_REGS, struct.pack("<18Q", *regs))
        fcntl.ioctl(vcpu, KVM_RUN, 0)
        reason = struct.unpack_from("<I", run, 8)[0]
        out = bytearray(144)
        fcntl.ioctl(vcpu, KVM_GET_REGS, out, True)
        rax = struct.unpack_from("<Q", out, 0)[0]
        if reason != KVM_EXIT_HLT or rax & 0xFF != 42:
            return f"test guest did not run (exit reason {reason}, al {rax & 0xFF})"
        return ""
    except OSError as e:
        return f"ioctl: {e}"
    finally:
        os.close(kvm)


if __name__ == "__main__":
    why = probe()
    if why:
        print(why, file=sys.stderr)
    sys.exit(1 if why else 0)
