"""Session fixtures of the lab: a real adbd/sshd device in a network namespace and a private
adb server. Skipped only when this machine cannot run the lab at all (not root, no netns)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devbench.config import AdbOptions
from devbench.targets.adb import AdbTarget
from devlab import AdbServer, LabDevice, SshEndpoint, ensure_rootfs, netns_usable
from devlab.emulated import EmulatedLabDevice, emulation_usable, host_binfmt_entries


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



# -- arm64 under qemu-user (private binfmt_misc; see devlab/emulated.py) ----------------

@pytest.fixture(scope="session")
def host_binfmt_before(lab_usable: None) -> list[str]:
    """The host's binfmt_misc entries before any arm64 fixture ran (to check they stay unchanged)."""
    return host_binfmt_entries()


@pytest.fixture(scope="session")
def lab_rootfs_arm64(lab_usable: None, host_binfmt_before: list[str]) -> Path:
    """The cached arm64 trixie rootfs (built on first use under qemu-user: 4 to 10 min)."""
    reason = emulation_usable("arm64")
    if reason:
        pytest.skip(f"arm64 lab unavailable: {reason}")
    return ensure_rootfs(arch="arm64")


@pytest.fixture(scope="session")
def lab_device_arm64(lab_rootfs_arm64: Path) -> Iterator[LabDevice]:
    with EmulatedLabDevice(lab_rootfs_arm64, arch="arm64") as dev:
        yield dev


@pytest.fixture
def adb_device_serial_arm64(adb_server: AdbServer, lab_device_arm64: LabDevice) -> str:
    """Serial of the arm64 lab device, connected to the private adb server (per test, like
    adb_device_serial)."""
    adb_server.connect(lab_device_arm64.adb_serial)
    return lab_device_arm64.adb_serial


# -- QEMU tests ---------------------------------------------------------------------------------

from tests.lab.qemu_helpers import qemu_pids_mentioning  # noqa: E402


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """A run folder; afterwards no QEMU that mentions it may be alive (any found is killed)."""
    from devlab import procs

    d = tmp_path / "run"
    d.mkdir()
    yield d
    left = qemu_pids_mentioning(str(d))
    for pid in left:  # never leave one behind, even when the test failed
        procs.kill_tree(pid)
    assert not left, f"QEMU processes left behind: {left}"


@pytest.fixture(scope="session")
def x86_guest(lab_usable: None):
    from devbench.qemu import guest_image_info

    return guest_image_info("x86_64")


@pytest.fixture
def adb_target(adb_server: AdbServer, adb_device_serial: str) -> Iterator[AdbTarget]:
    """An adb target (devbench's own transport) on the lab device, closed after the test."""
    t = AdbTarget("check", AdbOptions(serial=adb_device_serial, server_port=adb_server.port))
    yield t
    t.close()


# -- after each test: nothing left for the next one; a failure shows devbench's side -----------

from devlab import procs  # noqa: E402
from tests.lab import leftovers, runs  # noqa: E402

SHARED_DEVICES = ("lab_device", "lab_device_arm64")  # session devices every lab test shares
FIXTURE_PROCESSES = ("lab_device", "lab_device_arm64", "adb_server")  # their processes are not leftovers
_SETTLE_S = 3.0  # a process ending when its test ends may need a moment


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test (at teardown, after its own fixtures' teardown) that left a device lock, a
    restore journal or a payload on a shared lab device, or a process on this host, naming what
    it left; removes it, so the next test starts clean."""
    import os
    import time

    before = leftovers.host_processes(os.getpid())
    runs.RECENT.clear()
    yield
    left: list[str] = []
    for name in SHARED_DEVICES:
        if name in request.fixturenames:
            left += map(str, leftovers.check_device(name, request.getfixturevalue(name)))
    roots = [p for name in FIXTURE_PROCESSES if name in request.fixturenames
             for p in _fixture_pids(request.getfixturevalue(name))]
    tmp = request.node.funcargs.get("tmp_path") if hasattr(request.node, "funcargs") else None
    deadline = time.monotonic() + _SETTLE_S
    while True:
        now = leftovers.host_processes(os.getpid()) | (leftovers.mentioning(str(tmp)) if tmp else set())
        stray = leftovers.new_processes(before, now, roots)
        if not stray or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for p in sorted(stray, key=lambda p: p.pid):
        left.append(f"process pid {p.pid} ({leftovers.describe(p)})")
    for p in stray:
        procs.kill_tree(p.pid, [p])
    if left:
        pytest.fail(f"{request.node.nodeid} left behind (now removed): " + "; ".join(left), pytrace=False)


def _fixture_pids(value: object) -> list[int]:
    if isinstance(value, LabDevice):
        return value.pids
    pid = getattr(value, "pid", None)
    return [pid] if isinstance(pid, int) else []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failing lab test's report shows its devbench runs' errors (every results.json under its
    tmp_path) and each devbench command's stderr tail (tests/lab/runs.py)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "teardown"):
        tmp = getattr(item, "funcargs", {}).get("tmp_path")
        text = runs.report_text(tmp)
        if text:
            report.sections.append(("devbench: the runs' errors and stderr", text))
