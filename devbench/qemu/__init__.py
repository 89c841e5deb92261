"""Boot devbench guests under QEMU: a cached ext4 image of the lab rootfs, a feature kernel
(or Debian's stock kernel with an initramfs), user networking with adb and ssh forwarded to
loopback, and a boot watchdog with retries."""

from .image import GuestImage, guest_image, guest_image_info, qemu_cache_root
from .machine import BootError, QemuMachine, QemuSpec, check_kvm, classify_console, qemu_command, resolve_accel
from .stock import StockKernel, stock_kernel

__all__ = ["BootError", "GuestImage", "QemuMachine", "QemuSpec", "check_kvm", "classify_console",
           "guest_image", "guest_image_info", "qemu_cache_root", "qemu_command", "resolve_accel", "StockKernel",
           "stock_kernel"]
