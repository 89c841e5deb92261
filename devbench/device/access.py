"""Reads and (root) writes on one device. Paths and values reach the device's shell only as
positional parameters, never as command text."""

from __future__ import annotations

import time
from collections.abc import Sequence

from devbench.errors import TargetError
from devbench.targets.base import CommandResult, Target


class DeviceAccess:
    def __init__(self, target: Target, root_prefix: Sequence[str] = ()):
        self.target = target
        self.root_prefix = tuple(root_prefix)

    @property
    def name(self) -> str:
        return self.target.name

    def run(self, argv: Sequence[str], *, root: bool = False, timeout: float = 30) -> CommandResult:
        return self.target.run([*(self.root_prefix if root else ()), *argv], timeout=timeout)

    def read(self, path: str) -> str:
        res = self.run(["cat", path])
        if not res.ok:
            raise TargetError(self.name, f"read {path}", res.last_words() or f"exit {res.exit_code}")
        return res.stdout.strip()

    def write(self, path: str, value: str) -> None:
        """Write a setting (a sysfs or procfs file: never a symbolic link, so one is refused)."""
        res = self.run(["sh", "-c", 'if [ -L "$1" ]; then echo "$1 is a symbolic link: not written" >&2; exit 1; fi; '
                                    'printf "%s\\n" "$2" > "$1"', "sh", path, value], root=True)
        if not res.ok:
            raise TargetError(self.name, f"write {path}", res.last_words() or f"exit {res.exit_code}")

    def write_text(self, path: str, text: str) -> None:
        """Replace a file atomically, e.g. the restore journal: a new temporary file (mktemp:
        created exclusively, mode 0600, so never a symbolic link planted in its place), renamed
        over the file (a rename replaces a link, never follows it)."""
        res = self.run(["sh", "-c", '(umask 077 && mkdir -p "${1%/*}") && t=$(mktemp "$1.XXXXXX") && '
                                    '{ printf "%s" "$2" > "$t" && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }; }',
                        "sh", path, text], root=True)
        if not res.ok:
            raise TargetError(self.name, f"write {path}", res.last_words() or f"exit {res.exit_code}")

    def read_text(self, path: str) -> str | None:
        """A file's content, or None when it does not exist."""
        res = self.run(
            ["sh", "-c", 'if [ -e "$1" ]; then cat "$1"; else echo __devbench_absent__; fi', "sh", path], root=True
        )
        if not res.ok:
            raise TargetError(self.name, f"read {path}", res.last_words() or f"exit {res.exit_code}")
        return None if res.stdout.strip() == "__devbench_absent__" else res.stdout

    def remove(self, path: str) -> None:
        res = self.run(["rm", "-f", path], root=True)
        if not res.ok:
            raise TargetError(self.name, f"remove {path}", res.last_words() or f"exit {res.exit_code}")

    def getprop(self, name: str) -> str:
        res = self.run(["getprop", name])
        return res.stdout.strip() if res.ok else ""

    def wait_prop(self, name: str, value: str, timeout: float, poll: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.getprop(name) == value:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
