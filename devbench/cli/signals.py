"""SIGTERM and SIGHUP during a run: raised like Ctrl-C, so every finally block restores the device."""

from __future__ import annotations

import signal

TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminate(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised like Ctrl-C so every finally block restores the device."""


def on_signal(signum: int, frame: object) -> None:
    raise Terminate(signal.Signals(signum).name)
