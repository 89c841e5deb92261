"""This machine as a target: subprocess with argument lists."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Sequence

from devbench.config import LocalOptions
from devbench.errors import TargetError
from devbench.targets.base import CommandResult, LineCallback, LineSplitter


class LocalTarget:
    transport = "local"

    def __init__(self, name: str, options: LocalOptions):
        self.name = name
        self.workdir = options.workdir or os.path.join(tempfile.gettempdir(), "devbench")

    def run(self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, errors="replace", start_new_session=True,
            )
        except OSError as exc:
            raise TargetError(self.name, "run", f"cannot start {argv[0]}: {exc.strerror}") from None
        self._active = proc
        err_chunks: list[str] = []
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        out_lines: list[str] = []
        splitter = LineSplitter(on_line)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        try:
            assert proc.stdout is not None
            for chunk in iter(proc.stdout.readline, ""):
                out_lines.append(chunk)
                splitter.feed(chunk)
            splitter.close()
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        reader.join()
        if code < 0:  # killed by a signal: report as a shell would
            code = 128 - code
        return CommandResult(argv, code, "".join(out_lines), "".join(err_chunks))

    def interrupt(self) -> None:
        """Abort the command in flight (from another thread): its process group is killed."""
        proc = getattr(self, "_active", None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None:
        try:
            Path(remote).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, remote)
            os.chmod(remote, mode)
        except OSError as exc:
            raise TargetError(self.name, "push", f"{local} -> {remote}: {exc.strerror}") from None

    def pull(self, remote: str, local: Path) -> None:
        try:
            shutil.copyfile(remote, local)
        except OSError as exc:
            raise TargetError(self.name, "pull", f"{remote}: {exc.strerror}") from None

    def close(self) -> None:
        pass
