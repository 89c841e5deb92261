"""devbench.guest.guard's pure parts: the nftables script it loads and how it reads nft's JSON."""

from __future__ import annotations

import json
import os

import pytest

from devbench.guest.errors import LabError
from devbench.guest.guard import Interface, LoopbackPort, TrafficGuard, owner_pid, ruleset, table_info


def test_ruleset_rejects_other_uids_on_the_veth_and_the_loopback_port() -> None:
    text = ruleset("devbench_lab_t", [Interface("dbl7h"), LoopbackPort(40123)], 0)
    assert text.splitlines() == [
        "create table inet devbench_lab_t",
        "add chain inet devbench_lab_t output { type filter hook output priority 0; policy accept; }",
        "add chain inet devbench_lab_t forward { type filter hook forward priority 0; policy accept; }",
        'add rule inet devbench_lab_t output oifname "dbl7h" meta skuid != 0 meta l4proto tcp counter reject with tcp reset',  # noqa: E501
        'add rule inet devbench_lab_t output oifname "dbl7h" meta skuid != 0 counter reject with icmpx type admin-prohibited',  # noqa: E501
        'add rule inet devbench_lab_t forward oifname "dbl7h" counter drop',
        'add rule inet devbench_lab_t output oifname "lo" tcp dport 40123 meta skuid != 0 counter reject with tcp reset',  # noqa: E501
    ]


@pytest.mark.parametrize("table, guarded, uid, message", [
    ("devbench lab", [Interface("dbl1h")], 0, "bad nftables table name 'devbench lab'"),
    ("t", [Interface('x" accept; #')], 0, "bad interface name"),
    ("t", [Interface("a-name-longer-than-15")], 0, "bad interface name"),
    ("t", [LoopbackPort(0)], 0, "bad port 0"),
    ("t", [LoopbackPort(65536)], 0, "bad port 65536"),
    ("t", [Interface("dbl1h")], -1, "bad uid -1"),
    ("t", [], 0, "nothing to guard"),
])
def test_ruleset_refuses_what_is_not_a_plain_name_or_number(table, guarded, uid, message) -> None:
    with pytest.raises(LabError) as e:
        ruleset(table, guarded, uid)
    assert e.value.step == "guard" and message in e.value.detail


def test_table_info_reads_the_handle_and_sums_the_counters() -> None:
    listing = json.dumps({"nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "devbench_lab_t", "handle": 12}},
        {"chain": {"family": "inet", "table": "devbench_lab_t", "name": "output", "handle": 1}},
        {"rule": {"family": "inet", "table": "devbench_lab_t", "chain": "output", "handle": 3,
                  "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "skuid"}}, "right": 0}},
                           {"counter": {"packets": 3, "bytes": 180}}, {"reject": {"type": "tcp reset"}}]}},
        {"rule": {"family": "inet", "table": "devbench_lab_t", "chain": "forward", "handle": 5,
                  "expr": [{"counter": {"packets": 2, "bytes": 120}}, {"drop": None}]}},
        {"rule": {"family": "inet", "table": "someone_else", "chain": "output", "handle": 9,
                  "expr": [{"counter": {"packets": 100, "bytes": 1}}]}},
    ]})
    assert table_info(listing, "devbench_lab_t") == (12, 5)
    assert table_info(listing, "missing") == (None, 0)


def test_table_info_refuses_what_is_not_nft_json() -> None:
    with pytest.raises(LabError, match="nft -j output not understood"):
        table_info("table inet x {", "x")


def test_guard_names_are_unique_and_plain() -> None:
    a, b = (
        TrafficGuard([LoopbackPort(5037)], uid=0, tag="adb 5037!"),
        TrafficGuard([LoopbackPort(5037)], uid=0, tag="adb 5037!"),
    )
    assert a.table != b.table
    assert a.table.startswith("devbench_lab_adb5037_") and a.handle is None and not a.active
    a.stop()  # never started: nothing to delete, no nft call


def test_owner_pid_is_read_from_guard_names_only() -> None:
    assert owner_pid("devbench_lab_adb5037_4242_0a1b2c3d") == 4242
    assert owner_pid("devbench_lab_4242_0a1b2c3d") == 4242
    assert owner_pid(TrafficGuard([LoopbackPort(1)], uid=0, tag="dev7").table) == os.getpid()
    for other in ("devbench_lab_x", "devbench_lab_adb_x_0a1b2c3d", "firewalld", "devbench_lab_1_2"):
        assert owner_pid(other) is None
