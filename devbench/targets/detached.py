"""Run a command on a device detached from the session that started it.

The command runs in a session of its own (``setsid``), stdin from /dev/null, its stdout and
stderr into files in the device's work folder, its exit code into a third file when it ends.
The command that started it returns at once; the host then sleeps ``collect_s`` at a time with
no session open on the device (nothing of devbench runs there while the payload runs), and
after each sleep runs one short command that reads the exit code file and what the output file
gained, and passes the new lines on, so results are still saved as the run goes. What the device holds is only ever
parsed: the exit code must be a number, the PID a number.

Used for the QEMU guest's ``detach: true`` (issue 14: is the adb session open during the
timed forks a source of noise?). Needs ``setsid``, ``timeout`` and GNU ``tail --pid`` on the
device (Debian's coreutils and util-linux: devbench's guest has them).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence

from devbench.errors import TargetError
from devbench.targets.base import CommandResult, LineCallback, LineSplitter, Target

# $1 out, $2 err, $3 rc, then the command. The inner sh writes the exit code when the command
# ends (rc.tmp, then a rename: never a half-written code); `echo $!` is its PID (no job control:
# the background child is no group leader, so setsid keeps its PID and makes it the session's).
START = r'''o=$1 e=$2 r=$3
shift 3
setsid sh -c 'o=$1 e=$2 r=$3; shift 3; "$@" >"$o" 2>"$e" </dev/null; echo $? >"$r.tmp"; mv "$r.tmp" "$r"' \
    sh "$o" "$e" "$r" "$@" </dev/null >/dev/null 2>&1 &
echo $!'''
# $1 file: its content, nothing if it does not exist (yet)
CAT = 'cat "$1" 2>/dev/null; exit 0'
# $1 rc file, $2 out file, $3 byte offset (1-based): the exit code (or nothing) on the first
# line, then what the output file holds from the offset. The code is read first: output the
# command wrote before it ended is then in the file already.
POLL = 'c=$(cat "$1" 2>/dev/null); echo "${c:--}"; tail -c +"$3" "$2" 2>/dev/null; exit 0'
_PID = re.compile(r"^\s*(\d+)\s*$")


def job_files(workdir: str, job: str) -> tuple[str, str, str]:
    base = f"{workdir.rstrip('/')}/detached-{job}"
    return base + ".out", base + ".err", base + ".rc"


def parse_pid(text: str) -> int:
    m = _PID.match(text)
    if not m or int(m.group(1)) <= 1:
        raise ValueError(f"not a PID: {text.strip()[:80]!r}")
    return int(m.group(1))


def parse_rc(text: str) -> int | None:
    """The exit code file's content: None while it does not exist yet (empty read)."""
    t = text.strip()
    if not t:
        return None
    if not t.isdigit() or int(t) > 255:
        raise ValueError(f"exit code file holds {t[:40]!r}, not an exit code")
    return int(t)


def parse_poll(text: str) -> tuple[int | None, str]:
    """One poll's output: the exit code (None while the command runs: ``-``) and the new output."""
    first, _, rest = text.partition("\n")
    return (None if first.strip() == "-" else parse_rc(first)), rest


def run_detached(target: Target, argv: Sequence[str], *, workdir: str, timeout: float | None = None,
                 on_line: LineCallback | None = None, collect_s: float = 15.0) -> CommandResult:
    """Run ``argv`` on ``target`` detached (see the module); stream its stdout lines to
    ``on_line`` as they are collected; return its exit code and output. On a timeout or any
    exception (an interrupt) the detached process group is killed before raising."""
    argv = tuple(str(a) for a in argv)
    out, err, rc = job_files(workdir, secrets.token_hex(6))
    started = target.run(["sh", "-c", START, "sh", out, err, rc, *argv], timeout=60)
    try:
        pid = parse_pid(started.stdout)
    except ValueError as exc:
        raise TargetError(target.name, f"run {argv[0]} detached", f"{exc}; {started.last_words()}") from None
    deadline = time.monotonic() + timeout if timeout else None
    splitter = LineSplitter(on_line)
    got = bytearray()
    finished = False
    try:
        while True:
            wait = collect_s if deadline is None else max(0.5, min(collect_s, deadline - time.monotonic()))
            time.sleep(wait)
            code, new = parse_poll(target.run(["sh", "-c", POLL, "sh", rc, out, str(len(got) + 1)],
                                              timeout=120).stdout)
            got += new.encode()
            splitter.feed(new)
            if code is not None:
                splitter.close()
                finished = True
                errors = target.run(["sh", "-c", CAT, "sh", err], timeout=60).stdout
                target.run(["rm", "-f", out, err, rc], timeout=60)
                return CommandResult(argv, code, got.decode("utf-8", "replace"), errors)
            if deadline is not None and time.monotonic() >= deadline:
                raise TargetError(target.name, f"run {argv[0]}", f"timed out after {timeout:.0f} s (detached)")
    except ValueError as exc:
        raise TargetError(target.name, f"run {argv[0]} detached", str(exc)) from None
    finally:
        if not finished:
            _kill_group(target, pid)


def _kill_group(target: Target, pid: int) -> None:
    """SIGKILL the detached session's process group (its leader's PID is the group's id)."""
    try:
        target.run(["sh", "-c", 'kill -9 -"$1"', "sh", str(pid)], timeout=60)
    except Exception:  # noqa: BLE001 - the device may be gone; the caller's error is what matters
        pass
