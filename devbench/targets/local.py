"""This machine as a target: subprocess with argument lists.

Its work folder is per user (`<devbench cache>/work`, e.g. ~/.cache/devbench/work), never a
fixed name in a shared /tmp that someone else could create first. Files are pushed without
following symbolic links: a new temporary file (O_EXCL, O_NOFOLLOW) renamed into place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from devbench.cache import cache_root
from devbench.config import LocalOptions
from devbench.errors import TargetError
from devbench.targets.base import NO_INFO, CommandResult, LineCallback, LineSplitter, TargetDefaults


def default_workdir() -> str:
    """This user's own work folder: under devbench's cache, not in the shared /tmp."""
    return str(cache_root("work"))


class LocalTarget(TargetDefaults):
    transport = "local"
    info = NO_INFO

    def __init__(self, name: str, options: LocalOptions):
        self.name = name
        self.workdir = options.workdir or default_workdir()

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None
    ) -> CommandResult:
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
        stderr = proc.stderr
        assert stderr is not None  # stderr=PIPE
        reader = threading.Thread(target=lambda: err_chunks.append(stderr.read()), daemon=True)
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
        folder, base = os.path.split(remote)
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                with os.fdopen(fd, "wb") as dst, open(local, "rb") as src:
                    shutil.copyfileobj(src, dst)
                    os.fchmod(dst.fileno(), mode)
                os.rename(tmp, remote)  # replaces a link at `remote`, never follows it
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise TargetError(self.name, "push", f"{local} -> {remote}: {exc.strerror}") from None

    def pull(self, remote: str, local: Path) -> None:
        try:
            fd = os.open(remote, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except OSError as exc:
            raise TargetError(self.name, "pull", f"{remote}: {exc.strerror}") from None

    def close(self) -> None:
        pass
