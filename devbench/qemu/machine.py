"""Boot a guest under QEMU with adb and ssh forwarded to loopback, watch the boot, retry.

QEMU runs under ``timeout --signal=KILL <hard_timeout_s>`` in a session of its own, so it
never outlives the hard timeout even when devbench itself is SIGKILLed, and is ended by
the recorded PID (process group) otherwise. The guest's serial console goes to a file in
the run directory; the boot is over when the guest init prints ``DEVBENCH-GUEST-READY``
and adbd and sshd answer through the forwarded ports.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from devbench.guest import procs
from devbench.guest.errors import LabError
from devbench.guest.guard import TrafficGuard
from devbench.guest.keys import known_hosts_lines
from devbench.guest.sshd import SshEndpoint

from .cmdline import (
    CONSOLES,
    DAEMONS,
    ICOUNT,
    MACHINES,
    QEMU_BINARIES,
    Accel,
    Arch,
    Clock,
    Daemon,
    QemuSpec,
    kernel_args,
    machine_args,
    machine_type,
    qemu_command,
)
from .console import _read_from, classify_console, console_lines, console_tail
from .errors import BootError, QemuError, meaningful_line
from .host import _two_ports, adb_answers, check_kvm, free_port, host_arch, resolve_accel, ssh_answers
from .image import FAILED_MARKER, READY_MARKER, GuestImage
from .portguard import guard_ports
from .retry import FailureKind, RetryBudget, panic_kind, should_retry

# QEMU stderr: what it means
_PORT_CLASH = re.compile(r"could not set up host forwarding rule", re.I)
_FATAL = re.compile(r"could not load kernel|could not open|no such file|not a valid|unsupported|"
                    r"invalid|kernel too old|error loading|cannot|can.t|failed to", re.I)


# -- the machine -------------------------------------------------------------------------------

class _Attempt(Exception):
    """One boot attempt ended without a ready guest."""

    def __init__(self, kind: FailureKind, reason: str, tail: list[str]) -> None:
        super().__init__(reason)
        self.kind = kind  # whether it is tried again: devbench.qemu.retry
        self.reason = reason
        self.tail = tail


class QemuMachine:
    """A QEMU guest. ``with QemuMachine(spec, run_dir, name) as m: m.boot(); ...``

    After :meth:`boot`: ``adb_port``, ``ssh_port`` (on 127.0.0.1), ``adb_serial``
    ("127.0.0.1:PORT"), ``ssh`` (an :class:`~devbench.guest.sshd.SshEndpoint`: host, port, user
    root, key, known_hosts), ``pid`` (the ``timeout`` wrapper, leader of QEMU's process
    group), ``qemu_pid``, ``console_log``, ``boot_seconds`` (start of the successful
    attempt to ready), ``total_boot_seconds`` (including failed attempts), ``attempts``,
    ``accel``. ``attempt_log`` lists (attempt, outcome, seconds) of every QEMU start.
    """

    def __init__(self, spec: QemuSpec, run_dir: Path, name: str = "guest", *,
                 guest: GuestImage | None = None, guard_uids: tuple[int, ...] | None = None) -> None:
        self.spec = spec
        # who may reach the forwarded ports (devbench.qemu.portguard): default this process's uid
        self.guard_uids = guard_uids if guard_uids is not None else (os.geteuid(),)
        self._guard: TrafficGuard | None = None
        self.ports_guard = "not booted"  # what the facts say: "nftables: uid ... only" or "unguarded: why"
        self.run_dir = Path(run_dir)
        self.name = name
        self._guest = guest
        self.adb_port: int | None = None
        self.ssh_port: int | None = None
        self.pid: int | None = None
        self._qemu: procs.ProcId | None = None  # QEMU by identity (PID and start time)
        self.console_log: Path | None = None
        self.stderr_log: Path | None = None
        self.known_hosts: Path | None = None
        self.boot_seconds: float | None = None
        self.total_boot_seconds: float | None = None
        self.attempts = 0
        self.accel: str | None = None
        self.attempt_log: list[tuple[int, str, float]] = []
        self._proc: subprocess.Popen[bytes] | None = None

    # -- info --------------------------------------------------------------------------------
    @property
    def adb_serial(self) -> str:
        if self.adb_port is None:
            raise QemuError("machine", f"{self.name} is not booted")
        return f"127.0.0.1:{self.adb_port}"

    @property
    def ssh(self) -> SshEndpoint:
        if "sshd" not in self.spec.daemons:
            raise QemuError("machine", f"{self.name} runs no sshd (daemons: {', '.join(self.spec.daemons)})")
        if self.ssh_port is None or self.known_hosts is None:
            raise QemuError("machine", f"{self.name} is not booted")
        return SshEndpoint("127.0.0.1", self.ssh_port, "root", self.guest.client_key, self.known_hosts)

    @property
    def guest(self) -> GuestImage:
        if self._guest is None:
            self._guest = GuestImage.from_image(self.spec.image)
        return self._guest

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def qemu_pid(self) -> int | None:
        """QEMU's PID (the timeout wrapper's child), once it has been seen."""
        return self._qemu.pid if self._qemu else None

    def describe(self) -> dict[str, object]:
        ssh = ({"host": "127.0.0.1", "port": self.ssh_port, "user": "root", "key": str(self.guest.client_key),
                "known_hosts": str(self.known_hosts)} if "sshd" in self.spec.daemons else None)
        return {"name": self.name, "arch": self.spec.arch, "adb_serial": self.adb_serial, "ssh": ssh,
                "pid": self.pid, "qemu_pid": self.qemu_pid, "console_log": str(self.console_log),
                "boot_seconds": self.boot_seconds, "attempts": self.attempts, "accel": self.accel,
                "ports_guard": self.ports_guard}

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> QemuMachine:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.stop()
        except QemuError:
            if et is None:
                raise

    def boot(self) -> QemuMachine:
        """Start QEMU and wait for a ready guest, retrying failed boots; raises BootError."""
        if self._proc is not None:
            raise QemuError("machine", f"{self.name} already booted")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        t_all = time.monotonic()
        try:
            self.accel = resolve_accel(self.spec)
        except QemuError as e:
            raise BootError(e.detail, [], 0, name=self.name) from None
        budget = RetryBudget(self.spec.retries, self.spec.early_panic_retries)
        failures: list[FailureKind] = []
        while True:
            self.attempts += 1
            t0 = time.monotonic()
            try:
                self._attempt(self.attempts)
            except _Attempt as a:
                self.attempt_log.append((self.attempts, a.kind + ": " + a.reason, round(time.monotonic() - t0, 2)))
                self._kill()
                failures.append(a.kind)
                if should_retry(failures, budget):
                    continue
                raise BootError(a.reason, a.tail, self.attempts, name=self.name,
                                console_log=str(self.console_log)) from None
            except BaseException:
                self._kill()
                raise
            self.boot_seconds = time.monotonic() - t0
            self.total_boot_seconds = time.monotonic() - t_all
            self.attempt_log.append((self.attempts, "ready", round(self.boot_seconds, 2)))
            if "sshd" in self.spec.daemons:
                self._write_known_hosts()
            return self

    def _write_known_hosts(self) -> None:
        assert self.ssh_port is not None
        self.known_hosts = self.run_dir / f"known_hosts-{self.name}"
        self.known_hosts.write_text(
            "\n".join(known_hosts_lines("127.0.0.1", self.ssh_port, self.guest.host_public_key)) + "\n")

    def _attempt(self, attempt: int) -> None:
        spec = self.spec
        self.adb_port, ssh_port = _two_ports()
        self.ssh_port = ssh_port if "sshd" in spec.daemons else None
        self._stop_guard()  # a retry's new ports get a guard of their own, before QEMU listens
        ports = [self.adb_port] + ([self.ssh_port] if self.ssh_port is not None else [])
        self._guard, self.ports_guard = guard_ports(ports, self.guard_uids, self.name)
        self.console_log = self.run_dir / f"console-{self.name}-{attempt}.log"
        self.stderr_log = self.run_dir / f"qemu-{self.name}-{attempt}.stderr"
        self.console_log.write_bytes(b"")
        cmd = ["timeout", "--signal=KILL", str(int(spec.hard_timeout_s)),
               *qemu_command(spec, adb_port=self.adb_port, ssh_port=self.ssh_port,
                             console_log=self.console_log, accel=self.accel)]
        (self.run_dir / f"qemu-{self.name}-{attempt}.cmd").write_text(" ".join(cmd) + "\n")
        with open(self.stderr_log, "wb") as err:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                          start_new_session=True, close_fds=True)
        self.pid = self._proc.pid
        self._qemu = None
        deadline = time.monotonic() + spec.boot_timeout_s
        text = ""
        pos = 0
        while True:
            if self._qemu is None:
                kids = procs.descendants(self.pid)
                self._qemu = procs.identify(kids[0]) if kids else None
            chunk, pos = _read_from(self.console_log, pos)
            text += chunk
            state = classify_console(text)
            if state == "panic":
                self._settle()  # the rest of the panic message, then QEMU exits (panic=-1)
                text += _read_from(self.console_log, pos)[0]
                kind = panic_kind(console_lines(text))
                raise _Attempt(kind, "kernel panic" + (" before any init started" if kind == "early-panic" else ""),
                               console_tail(text))
            if state == "failed":
                self._settle()
                text += _read_from(self.console_log, pos)[0]
                lines = console_lines(text)
                why = next((ln.split(FAILED_MARKER + ":", 1)[1].strip() for ln in lines if FAILED_MARKER + ":" in ln),
                           "")
                raise _Attempt("failed", f"guest init failed: {why}", console_tail(text))
            if state == "ready":
                self._wait_ports(deadline, text)
                return
            rc = self._proc.poll()
            if rc is not None:
                chunk, pos = _read_from(self.console_log, pos)
                text += chunk
                if classify_console(text) in ("panic", "failed"):
                    continue  # classified on the next turn
                raise self._exited(rc, text)
            if time.monotonic() > deadline:
                raise _Attempt("failed", f"no {READY_MARKER} within {spec.boot_timeout_s:g} s (hang)",
                               console_tail(text))
            time.sleep(0.1)

    def _settle(self, timeout: float = 2.0) -> None:
        assert self._proc is not None
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def _exited(self, rc: int, text: str) -> _Attempt:
        err = self.stderr_log.read_text(errors="replace") if self.stderr_log else ""
        err_lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        first = err_lines[0] if err_lines else ""
        first = re.sub(r"^(timeout: )?qemu(-system-\w+)?: ", "", first)
        tail = console_tail(text)
        if _PORT_CLASH.search(err):
            return _Attempt("port", f"port collision: {first}", tail)
        if rc == 137 or rc == -signal.SIGKILL:
            return _Attempt("failed", f"QEMU killed (hard timeout {self.spec.hard_timeout_s:g} s?)", tail)
        if rc != 0 and first and _FATAL.search(first):
            return _Attempt("fatal", f"QEMU failed: {first}", tail)
        if rc != 0:
            return _Attempt("failed", f"QEMU exited with {rc}" + (f": {first}" if first else ""), tail)
        return _Attempt("failed", "guest rebooted before ready (QEMU exited with 0)", tail)

    def _wait_ports(self, deadline: float, text: str) -> None:
        """The guest says ready: wait until adbd (and sshd, if it runs) answer through the forwarded ports."""
        assert self.adb_port is not None and self._proc is not None
        deadline = max(deadline, time.monotonic() + 30)
        adb_ok = "adbd" not in self.spec.daemons
        ssh_ok = self.ssh_port is None
        while True:
            adb_ok = adb_ok or adb_answers(self.adb_port)
            ssh_ok = ssh_ok or (self.ssh_port is not None and ssh_answers(self.ssh_port))
            if adb_ok and ssh_ok:
                return
            if self._proc.poll() is not None:
                raise self._exited(self._proc.returncode, _read_from(self.console_log, 0)[0])
            if time.monotonic() > deadline:
                missing = " and ".join(w for w, ok in (("adbd", adb_ok), ("sshd", ssh_ok)) if not ok)
                raise _Attempt("failed", f"guest ready but {missing} not answering on the forwarded port",
                               console_tail(text))
            time.sleep(0.2)

    def _kill(self) -> list[int]:
        """SIGKILL QEMU's process group and tree by the recorded PIDs; reap; return survivors."""
        if self._proc is None:
            return []
        pid = self._proc.pid
        extra = [self._qemu] if self._qemu else []
        if self._qemu and procs.is_running(self._qemu):
            # QEMU first: the timeout wrapper then reaps it and exits (no zombie left to init)
            try:
                os.kill(self._qemu.pid, signal.SIGKILL)
                self._proc.wait(timeout=1)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(pid, signal.SIGKILL)  # start_new_session: the group id is the wrapper's PID
        except (ProcessLookupError, PermissionError):
            pass
        left = procs.kill_tree(pid, extra)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            left.append(pid)
        self._proc = None
        deadline = time.monotonic() + 3
        while True:  # QEMU is reparented once the wrapper dies: wait until it is gone too
            left = sorted({p for p in left if procs.alive(p)} | {p.pid for p in extra if procs.is_running(p)})
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGKILL QEMU (by PID) and check that it is gone, then drop its ports' guard.
        Idempotent; never waits long."""
        try:
            left = self._kill()
        finally:
            self._stop_guard()
        if left:
            raise QemuError("stop", f"{self.name}: still alive after SIGKILL: {left}")

    def _stop_guard(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            try:
                guard.stop()
            except LabError as exc:
                raise QemuError("stop", f"{self.name}: {exc}") from None


__all__ = [
    "CONSOLES",
    "ICOUNT",
    "QEMU_BINARIES",
    "Accel",
    "Arch",
    "Clock",
    "Daemon",
    "free_port",
    "host_arch",
    "machine_args",
    "DAEMONS",
    "MACHINES",
    "BootError",
    "QemuMachine",
    "QemuSpec",
    "adb_answers",
    "check_kvm",
    "classify_console",
    "console_lines",
    "console_tail",
    "kernel_args",
    "machine_type",
    "meaningful_line",
    "qemu_command",
    "resolve_accel",
    "ssh_answers",
]
