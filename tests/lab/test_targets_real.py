"""The adb and SSH transports against the real lab device (adbd and sshd in a namespace)."""

import hashlib
import time

import pytest

from devbench.config import AdbOptions, SshOptions
from devbench.errors import TargetError
from devbench.targets.adb import AdbTarget
from devbench.targets.ssh import SshTarget

pytestmark = pytest.mark.lab


@pytest.fixture(params=["adb", "ssh"])
def target(request, adb_server, adb_device_serial, ssh_device):
    if request.param == "adb":
        t = AdbTarget("lab-adb", AdbOptions(serial=adb_device_serial, server_port=adb_server.port))
    else:
        t = SshTarget("lab-ssh", SshOptions(host=ssh_device.host, port=ssh_device.port, user=ssh_device.user,
                                            key=str(ssh_device.key), known_hosts=str(ssh_device.known_hosts)))
    yield t
    t.close()


def test_exit_code_stdout_and_stderr_are_separate(target):
    res = target.run(["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=30)
    assert (res.exit_code, res.stdout, res.stderr) == (7, "out\n", "err\n")


def test_lines_are_streamed_while_the_command_runs(target):
    seen = []
    start = time.monotonic()
    res = target.run(["sh", "-c", "echo first; sleep 1.5; echo second"], timeout=30,
                     on_line=lambda line: seen.append((line, time.monotonic() - start)))
    assert res.ok and [s[0] for s in seen] == ["first", "second"]
    assert seen[0][1] < seen[1][1] - 1.0  # the first line arrived before the command finished


def test_hostile_arguments_are_data_not_commands(target):
    marker = "/tmp/devbench-injected"
    target.run(["rm", "-f", marker], timeout=30)
    evil = f"$(touch {marker}); touch {marker}; `touch {marker}` ' \" \n x"
    res = target.run(["printf", "%s", evil], timeout=30)
    assert res.ok and res.stdout == evil
    assert target.run(["test", "-e", marker], timeout=30).exit_code == 1


def test_push_pull_roundtrip_and_missing_file(target, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(bytes(range(256)) * 4000)
    target.run(["mkdir", "-p", "/tmp/dvb-xfer"], timeout=30)
    target.push(src, "/tmp/dvb-xfer/blob", 0o644)
    res = target.run(["sha256sum", "/tmp/dvb-xfer/blob"], timeout=30)
    assert res.stdout.split()[0] == hashlib.sha256(src.read_bytes()).hexdigest()
    back = tmp_path / "back"
    target.pull("/tmp/dvb-xfer/blob", back)
    assert back.read_bytes() == src.read_bytes()
    with pytest.raises(TargetError, match="no such file"):
        target.pull("/tmp/dvb-xfer/missing", tmp_path / "missing")


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o700, 0o755])
def test_push_gives_the_file_the_mode_asked(target, tmp_path, mode):
    """adbd in the lab makes every pushed file 0666 or 0777 whatever mode it is sent: a
    world-writable payload (run as root) or journal. The target sets the mode itself."""
    src = tmp_path / "f"
    src.write_text("x")
    target.push(src, "/tmp/dvb-mode", mode)
    try:
        assert target.run(["stat", "-c", "%a", "/tmp/dvb-mode"], timeout=30).stdout.strip() == f"{mode:o}"
    finally:
        target.run(["rm", "-f", "/tmp/dvb-mode"], timeout=30)


def test_timeout_is_enforced(target):
    start = time.monotonic()
    with pytest.raises(TargetError, match="timed out"):
        target.run(["sleep", "30"], timeout=1.5)
    assert time.monotonic() - start < 10


def test_adb_unknown_serial_and_missing_server_are_clear(adb_server):
    with pytest.raises(TargetError) as info:
        AdbTarget("ghost", AdbOptions(serial="no-such-serial", server_port=adb_server.port), connect_timeout=1)
    assert "no adb device no-such-serial" in str(info.value) and str(info.value).startswith("ghost: connect:")
    with pytest.raises(TargetError, match="no adb server at 127.0.0.1:1"):
        AdbTarget("ghost", AdbOptions(serial="x", server_port=1))


def test_adb_connect_by_host_port(adb_server, lab_device):
    t = AdbTarget("by-addr", AdbOptions(connect=lab_device.adb_serial, server_port=adb_server.port))
    try:
        assert t.run(["true"], timeout=30).ok
    finally:
        pass  # keep the session's connection: disconnect only when devbench made it


def test_ssh_host_keys_are_checked(ssh_device, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TargetError, match="not in .*refusing"):
        SshTarget(
            "lab-ssh",
            SshOptions(host=ssh_device.host, port=ssh_device.port, key=str(ssh_device.key), known_hosts=str(empty)),
        )
    # the right host, the wrong key
    wrong = tmp_path / "wrong"
    import paramiko

    other = paramiko.Ed25519Key.from_private_key_file(str(ssh_device.key))  # a valid key that is not the host's
    wrong.write_text(f"[{ssh_device.host}]:{ssh_device.port} ssh-ed25519 {other.get_base64()}\n")
    with pytest.raises(TargetError, match="does not match"):
        SshTarget(
            "lab-ssh",
            SshOptions(host=ssh_device.host, port=ssh_device.port, key=str(ssh_device.key), known_hosts=str(wrong)),
        )
    with pytest.raises(TargetError, match="does not exist"):
        SshTarget(
            "lab-ssh",
            SshOptions(
                host=ssh_device.host, port=ssh_device.port, key=str(ssh_device.key), known_hosts=str(tmp_path / "none")
            ),
        )
