"""The kernel settings a lab device may write (it shares this machine's kernel): what they were
when the device started, put back when it stops.

devbench restores what it changes, and the lab tests check that it does, within each test. A run
killed by SIGKILL (a test harness stopped mid-run, a CI job cancelled) cannot restore; its value
then stayed on this machine and the next session's tests started from it (CI once had
vm.max_map_count at 70001 from such a run). The lab puts them back at stop and says so on stderr,
so that a session leaves the machine's kernel as it found it."""

from __future__ import annotations

import sys
from pathlib import Path

WRITABLE = ("vm/max_map_count", "kernel/kptr_restrict", "kernel/perf_event_paranoid")  # devlab.device's mounts
PROC_SYS = Path("/proc/sys")


def snapshot(root: Path = PROC_SYS) -> dict[str, str]:
    """The writable settings' values now (a setting this kernel lacks is left out)."""
    out = {}
    for name in WRITABLE:
        try:
            out[name] = (root / name).read_text().strip()
        except OSError:
            continue
    return out


def put_back(before: dict[str, str], root: Path = PROC_SYS, device: str = "lab device") -> list[str]:
    """Write back every setting whose value is no longer `before`'s; one line per setting put
    back (also on stderr), or per setting that could not be."""
    said = []
    for name, value in before.items():
        path = root / name
        try:
            now = path.read_text().strip()
            if now == value:
                continue
            path.write_text(value + "\n")
            line = f"[lab] {device}: {name.replace('/', '.')} was {now} at stop, {value} at start: put back"
        except OSError as e:
            line = f"[lab] {device}: {name.replace('/', '.')}: could not put back {value}: {e.strerror or e}"
        said.append(line)
        print(line, file=sys.stderr)
    return said
