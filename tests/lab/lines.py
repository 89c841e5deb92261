"""Config lines of the lab's real devices, as a test writes them into a `targets:` list."""

from __future__ import annotations

from typing import Any


def ssh_line(name: str, s: Any, **extra: Any) -> str:
    """An SSH target for an endpoint with host, port, user, key, known_hosts (devlab.SshEndpoint)."""
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return (f"{{name: {name}, ssh: {{host: {s.host}, port: {s.port}, user: {s.user}, key: {s.key}, "
            f"known_hosts: {s.known_hosts}{more}}}}}")


def adb_line(name: str, serial: str, server_port: int, *, how: str = "serial") -> str:
    """An adb target on the private adb server: `serial` (already connected) or `connect`."""
    return f'{{name: {name}, adb: {{{how}: "{serial}", server_port: {server_port}}}}}'
