"""devbench.qemu.portguard's pure parts: who listens on the adb server's port, from /proc/net/tcp
texts; the guard's rule for several uids (the nft side is tested on a real guest in
tests/lab/test_qemu_boot.py)."""

from __future__ import annotations

import pytest

from devbench.guest.errors import LabError
from devbench.guest.guard import LoopbackPort, ruleset
from devbench.qemu import portguard
from devbench.qemu.portguard import listener_uids

HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TCP = (
    HEAD
    + (
        "   0: 0100007F:13AD 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 "
        "1\n"  # 5037 listen, uid 1000
        "   1: 0100007F:13AD 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 112 "
        "1\n"  # established: not a listener
        "   2: 0A00020F:13AD 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 113 "
        "1\n"  # 10.0.2.15: not loopback
        "   3: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 114 "
        "1\n"  # 8080 on every address
        "   4: garbage line\n"
    )
)
TCP6 = HEAD + (
    "   0: 00000000000000000000000001000000:13AD 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1001        0 115 1\n")  # ::1 5037


def test_listener_uids_takes_loopback_and_wildcard_listeners_on_the_port_only() -> None:
    assert listener_uids([TCP, TCP6], 5037) == {1000, 1001}
    assert listener_uids([TCP], 8080) == {33}
    assert listener_uids([TCP, TCP6], 5038) == set()
    assert listener_uids(["", "not a table"], 5037) == set()


def test_a_configured_server_is_used_only_when_it_is_devbenchs_or_roots_alone() -> None:
    """Issue 24 item 2: the guard admitted whoever listened on the adb server's port: a user who
    listened on [::1]:PORT first, or took 127.0.0.1:5037 before any server ran, became the
    server devbench talked through, and was let into the guest."""
    me = 1000
    assert portguard.server_owner([TCP], 5037, me) == 1000  # devbench's own uid's server
    root = TCP.replace("  1000        0 111", "     0        0 111")
    assert portguard.server_owner([root], 5037, me) == 0
    with pytest.raises(ValueError, match="several users"):
        portguard.server_owner([TCP, TCP6], 5037, me)  # uid 1001 squats [::1]:5037 beside it
    with pytest.raises(ValueError, match="belongs to uid 1000, not devbench's uid 0 or root"):
        portguard.server_owner([TCP], 5037, 0)  # another user's server, devbench as root
    with pytest.raises(ValueError, match="nothing listens on port 5038"):
        portguard.server_owner([TCP, TCP6], 5038, me)


def test_ruleset_lets_several_uids_through_as_one_set() -> None:
    rules = ruleset("devbench_lab_q", [LoopbackPort(40000), LoopbackPort(40001)], (1000, 0, 1000))
    assert 'oifname "lo" tcp dport 40000 meta skuid != { 0, 1000 } counter reject with tcp reset' in rules
    assert 'tcp dport 40001 meta skuid != { 0, 1000 }' in rules
    assert "meta skuid != 0 " in ruleset("devbench_lab_q", [LoopbackPort(40000)], [0])
    for bad in ((), (True,), (-1,), ("0",)):
        with pytest.raises(LabError, match="bad uid"):
            ruleset("devbench_lab_q", [LoopbackPort(40000)], bad)  # type: ignore[arg-type]


def test_a_guest_that_cannot_be_guarded_runs_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portguard, "unavailable", lambda: "devbench is not root (nftables needs root)")
    guard, note = portguard.guard_ports([40000], [0], "x")
    assert guard is None and note == "unguarded: devbench is not root (nftables needs root)"
