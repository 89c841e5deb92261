"""Running devbench from a lab test, and saying why a run failed.

`run` is subprocess.run for devbench's CLI that remembers each finished command of the
current test, so a failing lab test shows devbench's stderr (tests/lab/conftest.py adds it to
the report with the errors of every results.json under the test's tmp_path). `results` and
`target` read a run's results.json and raise RunFailed with the run's errors and the tail of
devbench's stderr when the run did not get as far as the test needs (instead of the
"'NoneType' object is not subscriptable" of indexing a target that never ran).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

STDERR_LINES = 25

RECENT: list[subprocess.CompletedProcess[Any]] = []  # devbench commands of the current test


class RunFailed(AssertionError):
    """A devbench run did not produce what the test reads; the message has its errors and stderr."""


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run(argv, **kwargs), remembered for the test's failure report."""
    res = subprocess.run(argv, **kwargs)
    RECENT.append(res)
    return res


def text_of(stream: str | bytes | None) -> str:
    if stream is None:
        return ""
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream


def stderr_tail(stream: str | bytes | None, n: int = STDERR_LINES) -> str:
    lines = text_of(stream).rstrip("\n").splitlines()
    return "\n".join(lines[-n:]) if lines else "(empty)"


def error_lines(data: dict[str, Any]) -> list[str]:
    """The run's status and its recorded errors, one line each."""
    run_ = data.get("run") if isinstance(data.get("run"), dict) else {}
    out = [f"run {run_.get('id')} status {run_.get('status')}"]
    for e in data.get("errors") or []:
        if isinstance(e, dict):
            where = "/".join(str(e[k]) for k in ("target", "scenario", "arm") if e.get(k))
            out.append(f"error [{e.get('kind')}] {where}: {e.get('message')}")
    for t in data.get("targets") or []:
        if isinstance(t, dict) and t.get("status") not in (None, "ok"):
            out.append(f"target {t.get('name')} status {t.get('status')}")
    return out


def explain(what: str, data: dict[str, Any] | None, res: subprocess.CompletedProcess[Any] | None) -> str:
    parts = [what]
    if data is not None:
        parts += error_lines(data)
    if res is not None:
        parts.append(
            f"devbench exit {res.returncode}; its stderr (last {STDERR_LINES} lines):\n{stderr_tail(res.stderr)}"
        )
    return "\n".join(parts)


def results(out_dir: Path, res: subprocess.CompletedProcess[Any] | None = None) -> dict[str, Any]:
    """results.json of the one run folder in ``out_dir``."""
    found = sorted(p for p in Path(out_dir).glob("*/results.json") if not p.parent.is_symlink())
    if len(found) != 1:
        raise RunFailed(
            explain(f"expected one run folder with results.json in {out_dir}, found {len(found)}", None, res)
        )
    try:
        return json.loads(found[0].read_text())
    except (OSError, ValueError) as exc:
        raise RunFailed(explain(f"{found[0]}: unreadable ({exc})", None, res)) from None


def target(
    data: dict[str, Any], name: str | None = None, res: subprocess.CompletedProcess[Any] | None = None
) -> dict[str, Any]:
    """The record of target ``name`` (the only one when None), which the run reached: it has facts."""
    records = [t for t in data.get("targets") or [] if name is None or t.get("name") == name]
    if len(records) != 1:
        raise RunFailed(
            explain(f"expected one target record{f' named {name}' if name else ''}, found {len(records)}", data, res)
        )
    [t] = records
    if not isinstance(t.get("facts"), dict):
        raise RunFailed(explain(f"target {t.get('name')} has no facts: the run never reached it", data, res))
    return t


def report_text(tmp_path: Path | None) -> str:
    """What a failing lab test's report shows: every results.json's errors under ``tmp_path``
    and each devbench command's stderr tail (empty when there is neither)."""
    parts: list[str] = []
    for path in sorted(tmp_path.rglob("results.json")) if tmp_path and tmp_path.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            parts.append(f"{path}: unreadable ({exc})")
            continue
        parts.append(
            f"{path}:\n  " + "\n  ".join(error_lines(data) if isinstance(data, dict) else ["not a JSON object"])
        )
    for res in RECENT:
        argv = " ".join(map(str, res.args)) if isinstance(res.args, (list, tuple)) else str(res.args)
        parts.append(f"$ {argv}\nexit {res.returncode}; stderr (last {STDERR_LINES} lines):\n{stderr_tail(res.stderr)}")
    return "\n\n".join(parts)


def wait_mid_run(proc: subprocess.Popen[Any], out_dir: Path, samples: int = 1, timeout: float = 180.0) -> Path:
    """Wait until the run of ``proc`` is observed mid-measurement: its results.json holds at least
    ``samples`` saved batches, its status is still "running" and the process has not ended.
    Returns the results.json. A test that signals a run calls this first, so that the machine's
    speed cannot turn the signal into one that lands after the run's end. Raises RunFailed that
    says what it waited for (and the run's errors and stderr) when the run ended first or the
    state did not come within ``timeout``."""
    import time

    what = f"the run mid-measurement (>= {samples} batch(es) saved, status running, process alive)"
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] | None = None
    while True:
        found = sorted(p for p in Path(out_dir).glob("*/results.json") if not p.parent.is_symlink())
        if found:
            try:
                seen = json.loads(found[0].read_text())
            except (OSError, ValueError):
                seen = None  # replaced while read: read it again
        ended = proc.poll() is not None
        if ended:
            out, err = proc.communicate()
            res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
            raise RunFailed(explain(f"waited for {what}, but the run ended first", seen, res))
        if (
            seen is not None
            and seen.get("run", {}).get("status") == "running"
            and len(seen.get("samples") or []) >= samples
        ):
            return found[0]
        if time.monotonic() > deadline:
            raise RunFailed(explain(f"waited {timeout:.0f} s for {what}; not reached", seen, None))
        time.sleep(0.05)


def signal_mid_run(proc: subprocess.Popen[Any], out_dir: Path, sig: int, samples: int = 1,
                   timeout: float = 60.0) -> tuple[str, str]:
    """Send `sig` to the run of ``proc`` once it is seen mid-measurement (wait_mid_run); its
    stdout and stderr. The process is killed if it outlives the test's wait."""
    try:
        wait_mid_run(proc, out_dir, samples=samples)
        proc.send_signal(sig)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
