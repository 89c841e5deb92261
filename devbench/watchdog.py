"""Long set-up commands that fail when they stop making progress, not after a total time.

How long a set-up step takes depends on the machine's load: the arm64 lab rootfs (mmdebstrap
under qemu-user) took 406 s on a quiet machine and 852 s beside a kernel build, and a fixed
900 s limit failed it on a new machine. So a step here has no total limit; it fails when it
has made no progress for ``stall`` seconds. Progress is either of:

- new output: the log the command writes grew;
- work: the command's processes (its session: it is started in a session of its own) used
  CPU time, their waited-for children's included.

A command that waits on a dead network connection shows neither and is ended; one that
unpacks packages slowly under emulation shows both and is left to finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_STALL = 600.0  # 10 min with no output and no CPU time: a hung step, not a slow one
_POLL = 5.0


@dataclass
class Progress:
    """Pure: the last time a sample showed progress. ``sample`` is any comparable tuple that only
    grows while the command works (log sizes, CPU ticks)."""

    stall: float
    last_sample: tuple = ()
    last_change: float | None = None
    history: list[float] = field(default_factory=list)

    def feed(self, sample: tuple, now: float) -> bool:
        """Record a sample taken at ``now``; True when the command is stalled."""
        if self.last_change is None or sample != self.last_sample:
            self.last_sample, self.last_change = sample, now
            return False
        return now - self.last_change >= self.stall

    def quiet_for(self, now: float) -> float:
        return 0.0 if self.last_change is None else now - self.last_change


def session_cpu_ticks(sid: int, proc_root: Path = Path("/proc")) -> int:
    """utime + stime (+ waited-for children's) of every process in session ``sid``, in clock ticks."""
    total = 0
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
        if len(fields) > 14 and fields[3] == str(sid):
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total


class StallError(Exception):
    """The command made no progress for ``quiet`` seconds and was ended."""

    def __init__(self, cmd: Sequence[str], quiet: float) -> None:
        self.cmd = list(cmd)
        self.quiet = quiet
        super().__init__(f"no output and no CPU time for {quiet:.0f} s: ended ({cmd[0]})")


class Watchdog:
    """Ends a running command's session (SIGKILL to its process group) once it is stalled.

    ``outputs``: files whose growth is progress (the command's log). Use as a context manager
    around ``proc.wait()``; ``stalled`` is the quiet time that ended it, else None.
    """

    def __init__(self, proc: subprocess.Popen, stall: float, outputs: Sequence[Path] = (),
                 poll: float = _POLL, clock: Callable[[], float] = time.monotonic) -> None:
        self.proc = proc
        self.progress = Progress(stall)
        self.outputs = list(outputs)
        self.poll = poll
        self.clock = clock
        self.stalled: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{proc.pid}", daemon=True)

    def sample(self) -> tuple:
        sizes = tuple(p.stat().st_size if p.exists() else -1 for p in self.outputs)
        return (*sizes, session_cpu_ticks(self.proc.pid))

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            if self.proc.poll() is not None:
                return
            now = self.clock()
            if self.progress.feed(self.sample(), now):
                self.stalled = self.progress.quiet_for(now)
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    def __enter__(self) -> Watchdog:
        self.progress.feed(self.sample(), self.clock())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_watched(cmd: Sequence[str], log: Path, *, stall: float = DEFAULT_STALL, cwd: Path | None = None,
                env: Mapping[str, str] | None = None, poll: float = _POLL) -> int:
    """Run ``cmd`` with stdout and stderr appended to ``log``; its exit code. Raises StallError
    (after ending the command's whole session) when it made no progress for ``stall`` seconds.
    Ctrl-C or any other exception ends the session too."""
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, env=None if env is None else dict(env), start_new_session=True)
        try:
            with Watchdog(proc, stall, [log], poll=poll) as dog:
                rc = proc.wait()
        except BaseException:
            _end(proc)
            raise
    if dog.stalled is not None:
        with open(log, "a") as f:
            f.write(f"\n(no progress for {dog.stalled:.0f} s: ended by devbench's watchdog)\n")
        raise StallError(cmd, dog.stalled)
    return rc


def _end(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def watched_failure(cmd: Sequence[str], log: Path, what: str, tail: int = 500) -> str | None:
    """run_watched for a build step whose failure is one line: None when it succeeded, else
    "WHAT stalled: ..." or "WHAT failed (exit N): <the log's last characters>"."""
    try:
        rc = run_watched(cmd, log)
    except StallError as e:
        return f"{what} stalled: {e}"
    if rc != 0:
        return f"{what} failed (exit {rc}): {log.read_text(errors='replace').strip()[-tail:]}"
    return None
