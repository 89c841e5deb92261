"""SSH keys for lab devices (ed25519, generated in-process with cryptography)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_ed25519(path: Path, comment: str) -> str:
    """Write a new OpenSSH private key to ``path`` (0600) and ``path``.pub; return the public line."""
    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(priv)
    line = f"{pub} {comment}"
    path.with_name(path.name + ".pub").write_text(line + "\n")
    return line


def known_hosts_lines(address: str, port: int, host_pub: str) -> list[str]:
    """``[ADDR]:PORT ssh-ed25519 AAAA...``; for port 22 also the bare ``ADDR`` form, because
    OpenSSH and paramiko look up the bare address when the port is 22."""
    keytype, blob = host_pub.split()[:2]
    lines = [f"[{address}]:{port} {keytype} {blob}"]
    if port == 22:
        lines.append(f"{address} {keytype} {blob}")
    return lines
