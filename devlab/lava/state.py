"""The lab LAVA's processes and its state file: each service started in a session of its own
and recorded by PID and start time (state.json), found alive again or ended by its group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from devbench.device.procid import ProcId, identify, is_running
from devbench.guest.errors import LabError


def _spawn(cmd: list[str], out: Path, env: dict[str, str]) -> dict[str, int]:
    with open(out, "ab") as f:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd="/")
    ident = identify(proc.pid)
    if ident is None:
        raise LabError("lava", f"{cmd[0]} exited at once (see {out})")
    return {"pid": ident.pid, "start": ident.start}


def _stop_group(proc: ProcId) -> None:
    """TERM the session the lab started (its leader's PID is its group id), then KILL what is left."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
        if not is_running(proc):
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        _wait_gone(proc, wait)
    try:  # members of the group that outlived their leader (QEMU, lava-run)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_gone(proc: ProcId, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while is_running(proc) and time.monotonic() < deadline:
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)


def _wait_api(url: str, timeout: float, st: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/api/v0.2/", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LabError("lava", f"the LAVA API at {url} did not answer within {timeout:.0f} s (see {st / 'logs'})")
        time.sleep(0.5)


def _read_state(st: Path) -> dict:
    try:
        return json.loads((st / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_state(st: Path, data: dict) -> None:
    tmp = st / "state.json.new"
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, st / "state.json")


def _running(rec: dict) -> bool:
    return is_running(ProcId(int(rec["pid"]), int(rec["start"])))


def _alive(data: dict, name: str) -> bool:
    rec = data.get(name)
    return bool(rec) and _running(rec)
