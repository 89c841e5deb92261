"""The lab's adbd (no authentication in Debian's build) and the tests' adb server answer only
root on this machine (devbench/guest/guard.py): a process of another user is refused, the
tests' own connections work, and a stopped lab leaves nothing of its guard on the host."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from devbench.guest.adbserver import free_port
from devbench.guest.guard import LoopbackPort, TrafficGuard, list_tables, nft_binary
from devlab import AdbServer, LabDevice, LabError
from devlab.netns import list_netns, run_ip
from tests.lab.connect_as import NOBODY, SYSTEM_PYTHON, connect_as

pytestmark = pytest.mark.lab

def _link_local(ns: list[str], dev: list[str]) -> tuple[str | None, bool]:
    """(the first IPv6 link-local address in ``ip [-n NS] addr show [dev DEV]``, whether it is still tentative)."""
    out = run_ip(*ns, "-6", "-o", "addr", "show", *dev, "scope", "link", check=False).stdout
    for line in out.split("\n"):
        parts = line.split()
        if "inet6" in parts:
            return parts[parts.index("inet6") + 1].split("/")[0], "tentative" in parts
    return None, False


def link_local(dev: LabDevice, timeout: float = 10.0) -> str | None:
    """The device side's IPv6 link-local address, once both ends of the veth have theirs out
    of duplicate address detection; None if the kernel gives the veth no IPv6."""
    deadline = time.monotonic() + timeout
    while True:
        addr, tentative = _link_local(["-n", str(dev.netns)], ["dev", str(dev._ns.dev_if)])  # type: ignore[union-attr]
        host, host_tentative = _link_local([], ["dev", host_if(dev)])
        if addr is None or host is None:
            return None
        if not (tentative or host_tentative) or time.monotonic() > deadline:
            return addr
        time.sleep(0.2)


def host_if(dev: LabDevice) -> str:
    assert dev.guard is not None
    return dev._ns.host_if  # type: ignore[union-attr]


def test_another_user_reaches_neither_the_lab_adbd_nor_the_adb_server(lab_device: LabDevice, adb_server: AdbServer,
                                                                      adb_device_serial: str, tmp_path: Path) -> None:
    assert Path(SYSTEM_PYTHON).exists()
    assert lab_device.guard is not None and adb_server.guard is not None
    assert lab_device.guard.active and adb_server.guard.active
    # control: the same kind of process as nobody connects to an unguarded loopback listener
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert connect_as(NOBODY, "127.0.0.1", listener.getsockname()[1]) == "connected"
    before_dev, before_srv = lab_device.guard.rejected_packets(), adb_server.guard.rejected_packets()

    # another user: refused at adbd, sshd and the adb server
    assert connect_as(NOBODY, str(lab_device.address), lab_device.adb_port) == "ConnectionRefusedError"
    assert connect_as(NOBODY, str(lab_device.address), lab_device.ssh_port) == "ConnectionRefusedError"
    assert connect_as(NOBODY, "127.0.0.1", adb_server.port) == "ConnectionRefusedError"
    ll = link_local(lab_device)
    print(f"device link-local address: {ll}")
    if ll:  # IPv6 on the veth: adbd listens there too; the guard covers the interface, not an address
        assert connect_as(0, ll, lab_device.adb_port, host_if(lab_device)) == "connected"
        assert connect_as(NOBODY, ll, lab_device.adb_port, host_if(lab_device)) == "ConnectionRefusedError"
    # the refusals are the guard's (its counters), not a closed port
    assert lab_device.guard.rejected_packets() >= before_dev + (3 if ll else 2)
    assert adb_server.guard.rejected_packets() >= before_srv + 1

    # root (the tests): the same ports, and the tests' real adb and SSH connections
    assert connect_as(0, str(lab_device.address), lab_device.adb_port) == "connected"
    assert connect_as(0, "127.0.0.1", adb_server.port) == "connected"
    dev = adb_server.client().device(adb_device_serial)
    assert dev.shell2(["id", "-u"], v2=True).output.strip() == "0"
    import paramiko

    ssh = lab_device.ssh()
    client = paramiko.SSHClient()
    client.load_host_keys(str(ssh.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(ssh.host, port=ssh.port, username=ssh.user, key_filename=str(ssh.key),
                       look_for_keys=False, allow_agent=False, timeout=10)
        _, out, _ = client.exec_command("id -u")
        assert out.read().decode().strip() == "0"
    finally:
        client.close()


def test_a_stopped_lab_leaves_no_guard_on_the_host(lab_rootfs: Path) -> None:
    """A device and an adb server of their own: while they run, their tables exist and refuse
    nobody; after stop, the host's ruleset is byte for byte what it was, and their namespace,
    veth and processes are gone."""
    nft = nft_binary()
    ruleset_before = subprocess.run([nft, "list", "ruleset"], capture_output=True, text=True, check=True).stdout
    tables_before = set(list_tables())
    dev = LabDevice(lab_rootfs)
    server = AdbServer()
    try:
        dev.start()
        server.start()
        assert dev.guard is not None and server.guard is not None
        tables = {dev.guard.table, server.guard.table}
        assert tables <= set(list_tables()) and not tables & tables_before
        ifname, netns, pids = host_if(dev), dev.netns, [*dev.pids, server.pid]
        assert connect_as(NOBODY, str(dev.address), dev.adb_port) == "ConnectionRefusedError"
        assert connect_as(NOBODY, "127.0.0.1", server.port) == "ConnectionRefusedError"
        server.connect(dev.adb_serial)
        port = server.port
    finally:
        server.stop()
        dev.stop()
    assert dev.guard is None and server.guard is None
    assert set(list_tables()) == tables_before
    assert subprocess.run([nft, "list", "ruleset"], capture_output=True, text=True, check=True).stdout == ruleset_before
    assert netns not in list_netns()
    assert ifname not in run_ip("-o", "link", "show", check=False).stdout
    assert all(not Path(f"/proc/{p}").exists() or _is_other(p) for p in pids if p)
    # the server's port is free again and unguarded: another user reaches a new listener on it
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (the server's TIME_WAIT connections)
        s.bind(("127.0.0.1", port))
        s.listen()
        assert connect_as(NOBODY, "127.0.0.1", port) == "connected"


def _is_other(pid: int) -> bool:
    """A recorded PID that is alive again belongs to another process (not a lab one)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"adbd" not in cmd and b"devbench-lab" not in cmd and b"server nodaemon" not in cmd


def test_a_device_that_fails_to_start_removes_its_guard(lab_usable: None, tmp_path: Path) -> None:
    """The guard is made before the device starts; a start that fails (here: an empty folder
    as its rootfs, so its mount script fails) takes it away again with the namespace."""
    tables_before = set(list_tables())
    empty = tmp_path / "not-a-rootfs"
    empty.mkdir()
    dev = LabDevice(empty, ready_timeout=10.0)
    with pytest.raises(LabError):
        dev.start()
    assert dev.guard is None and dev.netns not in list_netns()
    assert set(list_tables()) == tables_before


def test_a_killed_labs_table_is_swept_by_the_next_guard(lab_usable: None) -> None:
    """A lab process killed with SIGKILL leaves its table; the next guard to start deletes it
    (its PID is gone) and keeps the tables of labs still alive (this process's own)."""
    dead = subprocess.Popen(["true"])
    dead.wait()  # a PID that was this machine's and is no more
    nft = nft_binary()
    stale = f"devbench_lab_adb1_{dead.pid}_0badc0de"
    subprocess.run([nft, "-f", "-"], input=f"create table inet {stale}\n", text=True, check=True)
    try:
        with TrafficGuard([LoopbackPort(free_port())], tag="keep") as alive:
            assert stale in alive.swept  # (with any other dead lab's)
            assert stale not in list_tables() and alive.table in list_tables()
            with TrafficGuard([LoopbackPort(free_port())], tag="next") as nxt:
                assert alive.table not in nxt.swept and alive.active
    finally:
        subprocess.run([nft, "delete", "table", "inet", stale], capture_output=True)
