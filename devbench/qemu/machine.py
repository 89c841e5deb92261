"""Boot a guest under QEMU with adb and ssh forwarded to loopback, watch the boot, retry.

QEMU runs under ``timeout --signal=KILL <hard_timeout_s>`` in a session of its own, so it
never outlives the hard timeout even when devbench itself is SIGKILLed, and is ended by
the recorded PID (process group) otherwise. The guest's serial console goes to a file in
the run directory; the boot is over when the guest init prints ``DEVBENCH-GUEST-READY``
and adbd and sshd answer through the forwarded ports.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from devbench.config import QEMU_DAEMONS, QEMU_MACHINES
from devbench.guest import procs
from devbench.guest.sshd import SshEndpoint
from devbench.guest.errors import LabError
from devbench.guest.guard import TrafficGuard
from devbench.guest.keys import known_hosts_lines

from .errors import BootError, QemuError, meaningful_line
from .portguard import guard_ports
from .image import (DAEMONS_ARG, FAILED_MARKER, GUEST_ADB_PORT, GUEST_ADDRESS, GUEST_SSH_PORT, INIT_PATH, READY_MARKER,
                    GuestImage)
from .retry import EARLY_PANIC_RETRIES, FailureKind, RetryBudget, panic_kind, should_retry

Arch = Literal["x86_64", "arm64"]
Accel = Literal["tcg", "kvm", "auto"]
Clock = Literal["real", "icount"]
Daemon = Literal["adbd", "sshd"]
ICOUNT = "shift=0,align=off,sleep=off"  # QEMU -icount: 1 ns of guest time per instruction

QEMU_BINARIES: dict[str, str] = {"x86_64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}
CONSOLES: dict[str, str] = {"x86_64": "ttyS0", "arm64": "ttyAMA0"}
# QEMU machine types a guest may boot as (the first the default) and the daemons its init can
# start, in that order: the config's own lists, so the two never differ
MACHINES: dict[str, tuple[str, ...]] = QEMU_MACHINES
DAEMONS: tuple[Daemon, ...] = QEMU_DAEMONS  # type: ignore[assignment]
_HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_TAIL_LINES = 20

# QEMU stderr: what it means
_PORT_CLASH = re.compile(r"could not set up host forwarding rule", re.I)
_FATAL = re.compile(r"could not load kernel|could not open|no such file|not a valid|unsupported|"
                    r"invalid|kernel too old|error loading|cannot|can.t|failed to", re.I)


@dataclass(frozen=True)
class QemuSpec:
    """What to boot. ``accel``: "tcg" (default), "kvm" (must work, else the boot fails at
    once), "auto" (kvm only if :func:`check_kvm` says it works). ``append``: extra kernel
    args, after devbench's own (a later ``init=`` wins). ``initrd``: an initramfs (QEMU
    ``-initrd``); its ``/init`` (``rdinit=/init``) then mounts the disk and starts the guest
    init itself, so neither ``root=`` nor ``init=`` is passed (see :mod:`devbench.qemu.stock`)."""

    arch: Arch
    kernel: Path
    image: Path
    memory_mb: int = 4096
    cpus: int = 2
    accel: Accel = "tcg"
    append: str = ""
    boot_timeout_s: float = 180.0
    retries: int = 2  # failed boots tried again (early panics and port clashes: devbench.qemu.retry)
    hard_timeout_s: float = 7200.0
    initrd: Path | None = None
    early_panic_retries: int = EARLY_PANIC_RETRIES
    clock: Clock = "real"  # after the older fields: positional construction keeps its meaning
    machine: str | None = None  # QEMU -M: None is the arch's default (q35, virt); see MACHINES
    daemons: tuple[Daemon, ...] = DAEMONS  # started by the guest init; devbench itself needs adbd

    def __post_init__(self) -> None:
        if self.arch not in QEMU_BINARIES:
            raise ValueError(f"arch must be one of {sorted(QEMU_BINARIES)}, not {self.arch!r}")
        if self.accel not in ("tcg", "kvm", "auto"):
            raise ValueError(f"accel must be tcg, kvm or auto, not {self.accel!r}")
        if self.clock not in ("real", "icount") or (self.clock == "icount" and self.accel == "kvm"):
            raise ValueError(f"clock must be real or icount (icount under TCG only), not {self.clock!r} with {self.accel}")
        if self.machine is not None and self.machine not in MACHINES[self.arch]:
            raise ValueError(f"machine for {self.arch} must be one of {', '.join(MACHINES[self.arch])}, "
                             f"not {self.machine!r}")
        if not self.daemons or len(set(self.daemons)) != len(self.daemons) or any(d not in DAEMONS for d in self.daemons):
            raise ValueError(f"daemons must be distinct names of {', '.join(DAEMONS)}, not {list(self.daemons)!r}")
        if self.memory_mb < 64 or self.cpus < 1 or self.retries < 0 or self.early_panic_retries < 0:
            raise ValueError("memory_mb >= 64, cpus >= 1, retries >= 0, early_panic_retries >= 0")
        if self.boot_timeout_s <= 0 or self.hard_timeout_s <= self.boot_timeout_s:
            raise ValueError("0 < boot_timeout_s < hard_timeout_s")


def machine_type(spec: QemuSpec) -> str:
    """QEMU's -M for the spec: its own or the arch's default."""
    return spec.machine or MACHINES[spec.arch][0]


def kernel_args(spec: QemuSpec) -> str:
    if spec.initrd is not None:
        base = f"console={CONSOLES[spec.arch]} panic=-1 oops=panic rdinit=/init quiet"
    else:
        base = (f"console={CONSOLES[spec.arch]} root=/dev/vda rw rootfstype=ext4 panic=-1 oops=panic "
                f"init={INIT_PATH} quiet")
    if tuple(spec.daemons) != DAEMONS:  # the default (both) stays off the command line
        base += f" {DAEMONS_ARG}={','.join(spec.daemons)}"
    return f"{base} {spec.append}".strip()


def machine_args(spec: QemuSpec, accel: str | None = None) -> list[str]:
    """-M, -accel (with -icount) and -cpu of the spec (pure). ``accel`` overrides the spec's;
    "auto" means tcg here (:class:`QemuMachine` resolves "auto" with :func:`check_kvm` first)."""
    acc = accel or ("tcg" if spec.accel == "auto" else spec.accel)
    if acc not in ("tcg", "kvm"):
        raise ValueError(f"accel {acc!r}")
    if spec.arch == "x86_64":
        cpu = "host" if acc == "kvm" else "max"
    else:
        cpu = "host" if acc == "kvm" else "max,pauth-impdef=on"  # pauth-impdef: arm64 TCG 7-8x faster
    if acc == "kvm":
        accel_arg, icount = "kvm", []
    elif spec.clock == "icount":
        # guest time counts instructions (1 ns each): deterministic, one host thread for all vCPUs;
        # no sleep: an idle guest's time jumps ahead instead of waiting for the host
        accel_arg, icount = "tcg,thread=single", ["-icount", ICOUNT]
    else:
        accel_arg, icount = "tcg,thread=multi", []
    return ["-M", machine_type(spec), "-accel", accel_arg, *icount, "-cpu", cpu]


def qemu_command(spec: QemuSpec, *, adb_port: int, ssh_port: int | None, console_log: Path | str,
                 accel: str | None = None) -> list[str]:
    """The QEMU command line (pure). ``accel`` overrides the spec's; "auto" means tcg here
    (:class:`QemuMachine` resolves "auto" with :func:`check_kvm` first). The SSH port is
    forwarded only when the guest runs sshd."""
    cpu_part = machine_args(spec, accel)
    fwds = [f"hostfwd=tcp:127.0.0.1:{adb_port}-{GUEST_ADDRESS}:{GUEST_ADB_PORT}"]
    if "sshd" in spec.daemons:
        if ssh_port is None:
            raise ValueError("the guest runs sshd: an ssh_port to forward is needed")
        fwds.append(f"hostfwd=tcp:127.0.0.1:{ssh_port}-{GUEST_ADDRESS}:{GUEST_SSH_PORT}")
    fwd = ",".join(fwds)
    return [
        QEMU_BINARIES[spec.arch], *cpu_part,
        "-m", str(spec.memory_mb), "-smp", str(spec.cpus),
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
        "-kernel", str(spec.kernel),
        *(["-initrd", str(spec.initrd)] if spec.initrd is not None else []),
        "-append", kernel_args(spec),
        "-drive", f"file={spec.image},format=raw,if=virtio,snapshot=on,cache=unsafe",
        # restrict=on: the guest reaches neither the host nor the outside; hostfwd still works
        "-netdev", f"user,id=n0,restrict=on,ipv6=off,{fwd}",
        "-device", "virtio-net-pci,netdev=n0,romfile=",
        "-chardev", f"file,id=c0,path={console_log}",
        "-serial", "chardev:c0",
        "-monitor", "none",
    ]


# -- console -----------------------------------------------------------------------------------

_CTRL = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[^\[])|[\x00-\x08\x0b-\x1f\x7f]")  # CSI, ESC x, C0


def console_lines(text: str) -> list[str]:
    """Console text as clean lines (CR, escape sequences and control bytes removed)."""
    text = text.replace("\x1bc", "\n")  # ESC c (terminal reset, SeaBIOS sends it) starts a new screen
    return [_CTRL.sub("", line).rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def classify_console(text: str) -> Literal["ready", "panic", "failed"] | None:
    """What the console says so far: "failed" (the guest init gave up), "panic" (kernel
    panic), "ready" (the init printed the ready line), or None (still booting). A failure
    seen anywhere wins over readiness."""
    lines = console_lines(text)
    if any(line.lstrip().startswith(FAILED_MARKER) or f" {FAILED_MARKER}:" in line for line in lines):
        return "failed"
    if any("Kernel panic" in line for line in lines):
        return "panic"
    if any(line.strip() == READY_MARKER or line.strip().endswith("] " + READY_MARKER) for line in lines):
        return "ready"
    return None


def console_tail(text: str, n: int = _TAIL_LINES) -> list[str]:
    return [line for line in console_lines(text) if line.strip()][-n:]


# -- KVM ---------------------------------------------------------------------------------------

def host_arch() -> str:
    return _HOST_ARCH.get(platform.machine(), platform.machine())


@functools.lru_cache(maxsize=None)
def check_kvm(arch: str | None = None) -> bool:
    """True only if /dev/kvm really runs a guest of ``arch`` (default: the host's).

    A subprocess (bounded by a timeout) creates a VM with 16 KiB of memory, runs
    ``mov al, 42; hlt`` on a vCPU and checks that it exits with KVM_EXIT_HLT and rax=42.
    A paravirtual /dev/kvm that cannot run a normal guest fails this.
    """
    if arch is not None and _HOST_ARCH.get(arch, arch) != host_arch():
        return False
    if not os.path.exists("/dev/kvm"):
        return False
    try:
        cp = subprocess.run([sys.executable, "-m", "devbench.qemu._kvmprobe"], stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=15)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return cp.returncode == 0


def resolve_accel(spec: QemuSpec) -> str:
    """"tcg" or "kvm" for this spec; raises QemuError if kvm is required but does not work.
    Instruction counting (clock icount) is TCG's: "auto" then means tcg."""
    if spec.accel == "tcg" or spec.clock == "icount":
        return "tcg"
    works = check_kvm(spec.arch)
    if spec.accel == "kvm" and not works:
        raise QemuError("kvm", f"accel kvm asked, but /dev/kvm cannot run a {spec.arch} guest here")
    return "kvm" if works else "tcg"


# -- probes of the forwarded ports -------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _two_ports() -> tuple[int, int]:
    a = free_port()
    while True:
        b = free_port()
        if b != a:
            return a, b


_A_CNXN, _A_AUTH, _A_STLS = 0x4E584E43, 0x48545541, 0x534C5453


def adb_answers(port: int, timeout: float = 3.0) -> bool:
    """True if an adbd answers an adb CNXN on 127.0.0.1:port. (QEMU's user networking
    accepts every forwarded connection itself, so a bare TCP connect proves nothing.)"""
    payload = b"host::\0"
    hdr = struct.pack("<6I", _A_CNXN, 0x01000001, 256 * 1024, len(payload), sum(payload) & 0xFFFFFFFF,
                      _A_CNXN ^ 0xFFFFFFFF)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(hdr + payload)
            data = b""
            while len(data) < 4:
                chunk = s.recv(24 - len(data))
                if not chunk:
                    return False
                data += chunk
            return struct.unpack("<I", data[:4])[0] in (_A_CNXN, _A_AUTH, _A_STLS)
    except OSError:
        return False


def ssh_answers(port: int, timeout: float = 3.0) -> bool:
    """True if an SSH server sends its banner on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while b"\n" not in data and len(data) < 1024:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"SSH-")
    except OSError:
        return False


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
            ssh_ok = ssh_ok or ssh_answers(self.ssh_port)  # type: ignore[arg-type]
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


def _read_from(path: Path | None, pos: int) -> tuple[str, int]:
    if path is None:
        return "", pos
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except OSError:
        return "", pos
    return data.decode("utf-8", errors="replace"), pos + len(data)


__all__ = ["DAEMONS", "MACHINES", "BootError", "QemuMachine", "QemuSpec", "adb_answers", "check_kvm", "classify_console",
           "console_lines", "console_tail", "kernel_args", "machine_type", "meaningful_line", "qemu_command", "resolve_accel",
           "ssh_answers"]
