"""Holding SIGINT/SIGTERM/SIGHUP back while a device is being changed or restored.

Inside signals_deferred() a signal is remembered instead of acted on; on leaving, the old
handlers come back and a remembered signal is delivered again, so Ctrl-C still stops the
run, just not halfway through writing a setting and its journal entry. Only the main thread
can handle signals; elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    old: dict[int, Any] = {}

    def remember(signum: int, frame: object) -> None:
        pending.append(signum)

    for sig in _SIGNALS:
        old[sig] = signal.signal(sig, remember)
    try:
        yield
    finally:
        for restored, handler in old.items():
            signal.signal(restored, handler)
        for signum in dict.fromkeys(pending):  # each distinct signal once, in order of arrival
            os.kill(os.getpid(), signum)  # delivered now, to the handlers of the caller
