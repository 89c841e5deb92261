"""devbench's test lab: real adbd and sshd devices in network namespaces on one Linux host.

Not part of the product (not in the wheel; devbench imports nothing from here). What devbench's
own QEMU guest needs as well (rootfs, keys, traffic guard, processes, sshd) is devbench.guest,
re-exported here for the lab's users."""

from devbench.guest import procs
from devbench.guest.adbserver import AdbServer, PrivateAdbClient
from devbench.guest.errors import LabError
from devbench.guest.mirror import debian_mirror, mirror_from_texts
from devbench.guest.rootfs import DEFAULT_PACKAGES, ensure_rootfs, rootfs_path

from .device import LabDevice, SshEndpoint
from .emulated import EmulatedLabDevice, lab_device_for
from .netns import netns_usable

__all__ = [
    "AdbServer",
    "EmulatedLabDevice",
    "lab_device_for",
    "PrivateAdbClient",
    "DEFAULT_PACKAGES",
    "LabDevice",
    "LabError",
    "debian_mirror",
    "ensure_rootfs",
    "mirror_from_texts",
    "netns_usable",
    "procs",
    "rootfs_path",
    "SshEndpoint",
]
