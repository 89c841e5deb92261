"""A QEMU guest is driven through devbench's own adb server (issue 24 item 2).

The guard used to admit the uid of whatever listened on the adb server's port: a user who
listened on [::1]:PORT first, or took 127.0.0.1:5037 before any server ran, was admitted and
became the server devbench talked through; and the server itself answered every local user
(`adb -s 127.0.0.1:PORT shell` as uid 65534 reached the guest's root). Now, with no
server_port in the config, devbench starts a private server (guarded: devbench's uid only,
checked to be the only listener on its port) for each guest and stops it with the guest; a
configured server is used only when it is devbench's or root's alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devbench.errors import TargetError
from devbench.guest.adbserver import AdbServer, free_port
from devbench.guest.errors import LabError
from devbench.guest.guard import list_tables
from devbench.targets.kinds.qemu import QemuOptions
from devbench.targets.qemu import AdbServerChoice, QemuTarget
from devlab import procs
from tests.lab.connect_as import NOBODY, SYSTEM_PYTHON, connect_as

pytestmark = [pytest.mark.lab]

_LISTEN = """
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print("listening", flush=True)
time.sleep(120)
"""


def listen_as(uid: int, host: str, port: int) -> subprocess.Popen[str]:
    """A listener of another user on this machine (what a squatter would start); ended by PID."""
    proc = subprocess.Popen([SYSTEM_PYTHON, "-c", _LISTEN, host, str(port)], user=uid, group=uid, extra_groups=[],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "listening", proc.stderr.read() if proc.stderr else ""
    return proc


def end(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_another_users_server_named_by_the_config_is_refused(lab_usable: None) -> None:
    port = free_port()
    squatter = listen_as(NOBODY, "127.0.0.1", port)
    try:
        with pytest.raises(TargetError) as err:
            AdbServerChoice("kut", QemuOptions(arch="x86_64", server_port=port))
        text = str(err.value)
        assert text.startswith("kut: adb server: ") and f"belongs to uid {NOBODY}" in text and "\n" not in text
        assert "leave server_port out and devbench runs its own" in text
    finally:
        end(squatter)


def test_devbenchs_own_server_refuses_a_port_someone_listens_on_beside_it(lab_usable: None) -> None:
    """Someone listening on [::1]:PORT first: the server would share its port with them."""
    port = free_port()
    squatter = listen_as(NOBODY, "::1", port)
    try:
        with pytest.raises(LabError, match=f"also listened on by uid\\(s\\) \\[{NOBODY}\\]|exited"):
            AdbServer(port=port, guard="auto", start_timeout=5).start()
    finally:
        end(squatter)
    assert not [t for t in list_tables() if f"adb{port}" in t]


def _adb_as_nobody(port: int, serial: str) -> subprocess.CompletedProcess[str]:
    from devbench.guest.adbserver import adb_binary

    home = Path("/tmp") / f"devbench-nobody-{os.getpid()}"
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, NOBODY, NOBODY)
    try:
        return subprocess.run([adb_binary(), "-P", str(port), "-s", serial, "shell", "id"], user=NOBODY, group=NOBODY,
                              extra_groups=[], capture_output=True, text=True, timeout=60, cwd="/",
                              env={"HOME": str(home), "PATH": "/usr/bin:/bin", "ADB_MDNS": "0"})
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=False)


@pytest.mark.qemu
@pytest.mark.timeout(1200)
def test_a_guest_is_driven_through_devbenchs_own_guarded_server(lab_usable: None, tmp_path: Path) -> None:
    target = QemuTarget("kut", QemuOptions(arch="x86_64", kernel="feature"), tmp_path, print)
    server = target.server.server
    try:
        assert server is not None and server.pid is not None and server.guard is not None
        assert target.info["adb_server"] == f"devbench's own, 127.0.0.1:{server.port}"
        assert target.run(["id", "-u"], timeout=60).stdout.strip() == "0"  # devbench's own use works
        m = target.machine
        assert m.ports_guard == "nftables: uid 0 only", m.ports_guard
        # uid 65534: no route to the guest's adbd, sshd or the server that has it
        for port in (m.adb_port, m.ssh_port, server.port):
            assert connect_as(NOBODY, "127.0.0.1", port) == "ConnectionRefusedError", port
        res = _adb_as_nobody(server.port, m.adb_serial)
        assert res.returncode != 0 and "uid=0" not in res.stdout, res
        assert not any("uid=0" in w for w in target.warnings)
        tables = [server.guard.table, m._guard.table if m._guard else ""]
        assert all(t in list_tables() for t in tables)
        pid = server.pid
    finally:
        target.close()
    deadline = time.monotonic() + 10
    while procs.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.alive(pid), "devbench's adb server outlived its guest"
    assert not [t for t in tables if t in list_tables()], "a guard table outlived its guest"
    assert target.server.server is None
