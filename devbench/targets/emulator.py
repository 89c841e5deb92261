"""An Android emulator that devbench starts itself (`emulator: {avd: NAME}`).

Where the Android SDK's `emulator` is installed, devbench starts the AVD headless on a free
console port, waits until the adb server lists emulator-PORT and the device reports
sys.boot_completed=1, drives it as an adb target, and kills it (by PID) when done.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from devbench.config import AdbOptions, EmulatorOptions
from devbench.errors import DevbenchError, TargetError
from devbench.targets.adb import AdbTarget
from devbench.targets.base import NO_INFO, AdbBacked

CONSOLE_PORTS = range(5554, 5684, 2)  # the emulator's console port; adb is port + 1


def find_emulator(sdk: str | None) -> Path | None:
    roots = [sdk] if sdk else [os.environ.get("ANDROID_HOME"), os.environ.get("ANDROID_SDK_ROOT")]
    for root in roots:
        if root:
            path = Path(os.path.expanduser(root)) / "emulator" / "emulator"
            if path.is_file():
                return path
    found = shutil.which("emulator")
    return Path(found) if found else None


def emulator_command(binary: Path, avd: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """Headless, no audio, no snapshot written back: the AVD is left as it was (pure)."""
    return [str(binary), "-avd", avd, "-port", str(port), "-no-window", "-no-audio", "-no-boot-anim",
            "-no-snapshot-save", "-gpu", "swiftshader_indirect", *extra]


def free_console_port(used: AbstractSet[int] = frozenset()) -> int:
    for port in CONSOLE_PORTS:
        if port in used:
            continue
        if all(_free(p) for p in (port, port + 1)):
            return port
    raise OSError("no free emulator console port in 5554..5682")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class EmulatorTarget(AdbBacked):
    transport = "emulator"
    info = NO_INFO

    def __init__(self, name: str, options: EmulatorOptions, run_dir: Path, step: Callable[[str], None] | None = None):
        step = step or (lambda text: None)
        self.name = name
        self.options = options
        self.workdir = options.workdir
        binary = find_emulator(options.sdk)
        if binary is None:
            raise TargetError(name, "start emulator", "the Android SDK emulator is not installed "
                              "(set emulator.sdk, ANDROID_HOME or put `emulator` on PATH)")
        self.port = free_console_port()
        self.serial = f"emulator-{self.port}"
        self.log = run_dir / f"emulator-{name}.log"
        step(f"starting AVD {options.avd} as {self.serial}")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(emulator_command(binary, options.avd, self.port), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.adb = self._wait_booted(step)
        except BaseException:
            self._kill()
            raise
        self.warnings = ["Android emulator: emulator timings are not device timings"]

    def _wait_booted(self, step: Callable[[str], None]) -> AdbTarget:
        deadline = time.monotonic() + self.options.boot_timeout_s
        opts = AdbOptions(serial=self.serial, server_host=self.options.server_host,
                          server_port=self.options.server_port, workdir=self.options.workdir)
        adb = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TargetError(
                    self.name,
                    "start emulator",
                    f"the emulator exited with code {self.proc.returncode}: {self._last_log_line()}",
                )
            try:
                adb = adb or AdbTarget(self.name, opts, connect_timeout=5)
                if adb.run(["getprop", "sys.boot_completed"], timeout=30).stdout.strip() == "1":
                    return adb
                step("waiting for sys.boot_completed")
            except DevbenchError:
                pass
            time.sleep(2)
        raise TargetError(
            self.name, "start emulator", f"not booted after {self.options.boot_timeout_s} s: {self._last_log_line()}"
        )

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1][:200] if lines else "no output"

    def _kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def close(self) -> None:
        try:
            self.adb.close()
        finally:
            self._kill()
