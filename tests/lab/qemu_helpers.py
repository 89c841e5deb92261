"""Helpers of the QEMU lab tests."""

from pathlib import Path


def qemu_pids_mentioning(needle: str) -> list[int]:
    """PIDs of live qemu-system processes whose command line mentions ``needle`` (a run folder)."""
    import os

    from devlab import procs

    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and b"qemu-system" in os.path.basename(cmd[0]) and any(needle.encode() in a for a in cmd):
            if procs.alive(int(pid)):
                out.append(int(pid))
    return out
