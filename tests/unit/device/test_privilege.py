"""Root acquisition against stand-in targets (pure unit tests: no device answers here)."""

import pytest

from devbench.device.privilege import acquire_root
from devbench.errors import TargetError
from devbench.targets.base import CommandResult


class StandInTarget:
    """Answers `id -u` as a device would: 0 only through the prefixes that work on it."""

    name = "standin"

    def __init__(self, root_prefixes=(), adb_root_answer=None):
        self.root_prefixes = set(root_prefixes)
        self.adb_root_answer = adb_root_answer
        self.rooted = False
        self.calls = []

    def run(self, argv, *, timeout=None, on_line=None):
        argv = tuple(argv)
        self.calls.append(argv)
        prefix = argv[:-2]
        uid = "0" if (prefix in self.root_prefixes or (self.rooted and prefix == ())) else "2000"
        if prefix and prefix not in self.root_prefixes:
            return CommandResult(argv, 1, "", f"{prefix[0]}: not allowed")
        return CommandResult(argv, 0, uid + "\n", "")

    def adb_root(self):
        if self.adb_root_answer is None:
            return False
        self.rooted = self.adb_root_answer
        return self.rooted


def test_uid_0_needs_nothing():
    t = StandInTarget()
    assert acquire_root(t, 0, "auto").method == "uid 0" and t.calls == []


def test_adb_root_first_then_su_then_sudo():
    assert acquire_root(StandInTarget(adb_root_answer=True), 2000, "auto").method == "adb root"
    su = acquire_root(StandInTarget(root_prefixes={("su", "0")}), 2000, "auto")
    assert (su.method, su.prefix) == ("su", ("su", "0"))
    sudo = acquire_root(StandInTarget(root_prefixes={("sudo", "-n")}), 1000, "auto")
    assert (sudo.method, sudo.prefix, sudo.ok) == ("sudo", ("sudo", "-n"), True)


def test_no_root_is_said_and_require_refuses():
    none = acquire_root(StandInTarget(adb_root_answer=False), 2000, "auto")
    assert none.method is None and not none.ok
    with pytest.raises(TargetError, match="device.root is 'require'"):
        acquire_root(StandInTarget(), 2000, "require")


def test_never_does_not_even_try():
    t = StandInTarget(root_prefixes={("su", "0")})
    assert acquire_root(t, 2000, "never").method is None and t.calls == []
