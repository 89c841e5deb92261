"""SshTarget.run: a transport that dies while a channel opens is a lost connection (stand-in
transport: paramiko raises a bare EOFError there; the real cut is in tests/lab/test_faults.py)."""

from __future__ import annotations

import pytest

from devbench.errors import TargetError
from devbench.targets.ssh import SshTarget


class _DyingTransport:
    def open_session(self):
        raise EOFError()


class _Client:
    def get_transport(self):
        return _DyingTransport()


def test_eof_while_opening_a_channel_is_a_lost_connection():
    t = object.__new__(SshTarget)
    t.name, t.client, t._active, t._interrupted = "board", _Client(), None, None
    with pytest.raises(TargetError) as info:
        t.run(["true"])
    assert "SSH connection lost" in str(info.value) and "EOFError" in str(info.value)
