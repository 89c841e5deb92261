"""Session fixtures of the lab: a real adbd/sshd device in a network namespace and a private
adb server. Skipped only when this machine cannot run the lab at all (not root, no netns)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devbench.lab import AdbServer, LabDevice, SshEndpoint, ensure_rootfs, netns_usable


@pytest.fixture(scope="session")
def lab_usable() -> None:
    reason = netns_usable()
    if reason:
        pytest.skip(f"lab unavailable: {reason}")


@pytest.fixture(scope="session")
def lab_rootfs(lab_usable: None) -> Path:
    """The cached trixie rootfs (built on first use, ~30 s)."""
    return ensure_rootfs()


@pytest.fixture(scope="session")
def lab_device(lab_rootfs: Path) -> Iterator[LabDevice]:
    with LabDevice(lab_rootfs) as dev:
        yield dev


@pytest.fixture(scope="session")
def adb_server() -> Iterator[AdbServer]:
    """A private adb server (own port, own HOME). While it runs, the test process's
    ANDROID_ADB_SERVER_PORT points at it, so no code under test reaches a developer's server
    (and an adb that gets started by accident starts on the private port)."""
    with AdbServer() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        mp.setenv("ANDROID_USER_HOME", str(server.home / ".android"))  # type: ignore[operator]
        mp.setenv("ADB_MDNS", "0")
        mp.setenv("ADB_EMU", "0")
        yield server


@pytest.fixture
def adb_device_serial(adb_server: AdbServer, lab_device: LabDevice) -> str:
    """Serial ("10.231.X.2:5555") of the lab device, connected to the private adb server.

    Function-scoped on purpose: code under test may `adb disconnect` the device when it is
    done with it; each test gets it connected again (a few ms)."""
    adb_server.connect(lab_device.adb_serial)
    return lab_device.adb_serial


@pytest.fixture(scope="session")
def ssh_device(lab_device: LabDevice) -> SshEndpoint:
    """host, port, user, key (private key path), known_hosts (path) of the lab device's sshd."""
    return lab_device.ssh()

