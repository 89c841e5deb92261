"""The guest's sshd: its config (shared by devbench's QEMU guest and the lab's devices) and how
to reach it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SSHD_CONFIG = """\
Port {port}
ListenAddress {address}
HostKey /etc/ssh/devbench_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
# every test connects from the one host address, many of them refused on purpose (wrong host
# keys, killed runs): OpenSSH 9.8+ would then penalise that address and drop its connections
PerSourcePenalties no
MaxStartups 64
X11Forwarding no
AllowTcpForwarding yes
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
"""


@dataclass(frozen=True)
class SshEndpoint:
    """How to reach a lab device's sshd: paramiko/OpenSSH with ``key`` and ``known_hosts``."""

    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
