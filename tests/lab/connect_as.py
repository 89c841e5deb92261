"""A TCP connect as another user: what a process of someone else on this machine would get."""

from __future__ import annotations

import subprocess

NOBODY = 65534
# A system python a user other than root can run (the venv's may sit below root's 0700 home).
SYSTEM_PYTHON = "/usr/bin/python3"
_CONNECT = """
import socket, sys
host, port, scope = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
addr = (host, port, 0, socket.if_nametoindex(scope)) if scope else (host, port)
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(addr)
    print("connected")
except OSError as e:
    print(type(e).__name__ if isinstance(e, ConnectionRefusedError) else f"{type(e).__name__} {e}")
"""


def connect_as(uid: int, host: str, port: int, scope: str = "") -> str:
    """A TCP connect from a new process running as ``uid`` (no groups): "connected" or the error's name."""
    cp = subprocess.run([SYSTEM_PYTHON, "-c", _CONNECT, host, str(port), scope], user=uid, group=uid,
                        extra_groups=[], capture_output=True, text=True, timeout=30, cwd="/")
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()
