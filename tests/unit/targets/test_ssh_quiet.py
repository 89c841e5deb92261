"""paramiko's own logging stays off the user's terminal: a connection that closes before the SSH
banner (a device going away under a reconnect) made paramiko print "Exception (client): Error
reading SSH protocol banner" and a traceback on stderr, beside devbench's own one line. Run in a
new interpreter: pytest's log capture would stand in for the missing handler in-process."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import socket, threading
import paramiko
import devbench.targets.ssh
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
def serve():
    conn, _ = srv.accept()
    conn.close()
threading.Thread(target=serve, daemon=True).start()
t = paramiko.Transport(("127.0.0.1", srv.getsockname()[1]))
try:
    t.start_client(timeout=10)
except paramiko.SSHException as exc:
    print("refused:", exc)
"""


def test_a_banner_that_never_comes_prints_no_traceback() -> None:
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("refused: "), (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Exception (client)" not in res.stderr, res.stderr
