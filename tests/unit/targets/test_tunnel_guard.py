"""The lab-host tunnel serves devbench's own uid only (devbench.targets.tunnel.peer_uid)."""

from __future__ import annotations

import os
import socket
import sys

from devbench.targets.tunnel import _hex_addr, peer_uid

TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000 65534        0 2 1 0 20 4 30 10 -1
   2: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 0100007F:D432 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
   4: 0100007F:D433 0100007F:9C40 06 00000000:00000000 00:00000000 00000000  1000        0 0 3 0
"""


def test_hex_addr_as_proc_net_tcp_writes_it():
    word = "0100007F" if sys.byteorder == "little" else "7F000001"
    assert _hex_addr("127.0.0.1", 0x9C40) == f"{word}:9C40"


def test_the_client_ends_owner_is_found():
    if sys.byteorder != "little":
        return
    server = ("127.0.0.1", 0x9C40)
    assert peer_uid(TABLE, ("127.0.0.1", 0xD431), server) == 65534  # another user's connection
    assert peer_uid(TABLE, ("127.0.0.1", 0xD432), server) == 0
    # the server's own end (local = server) is not mistaken for the client's
    assert peer_uid(TABLE, server, ("127.0.0.1", 0xD431)) == 0


def test_no_such_connection_or_not_established_is_none():
    server = ("127.0.0.1", 0x9C40)
    assert peer_uid(TABLE, ("127.0.0.1", 0xD433), server) is None  # TIME_WAIT: not a live client
    assert peer_uid(TABLE, ("127.0.0.1", 0xFFFF), server) is None
    assert peer_uid("", ("127.0.0.1", 0xD431), server) is None
    assert peer_uid(TABLE.replace("65534", "nobody"), ("127.0.0.1", 0xD431), server) is None


def test_a_real_loopback_connection_is_this_processes_uid():
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        cli = socket.create_connection(srv.getsockname())
        conn, peer = srv.accept()
        table = open("/proc/net/tcp").read()
        assert peer_uid(table, peer, srv.getsockname()) == os.geteuid()
        conn.close()
        cli.close()
    finally:
        srv.close()
