"""The LAVA token: from $DEVBENCH_LAVA_TOKEN or lavacli's identity file, never from options, never
in a message (pure: files under tmp_path, no server)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
import yaml

from devbench.errors import ConfigError
from devbench.lava.api import LavaApi, LavaApiError
from devbench.lava.credentials import TokenMissing, token_for
from devbench.lava.options import ServerRef, options_from_mapping

SERVER = ServerRef(url="http://127.0.0.1:8080/", user="alice")
SECRET = "s3cr3tT0kenABCDEFGHIJKLMNOP"
BASE = {"device_type": "qemu", "payload": {"path": "/x"}, "qemu": {"arch": "amd64", "rootfs_url": "https://x.example/r"}}


def _identities(tmp_path: Path, data: object) -> dict[str, str]:
    (tmp_path / "lavacli.yaml").write_text(yaml.safe_dump(data))
    return {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}


def test_the_environment_wins(tmp_path: Path) -> None:
    env = _identities(tmp_path, {"x": {"uri": "http://127.0.0.1:8080/RPC2", "username": "alice", "token": "other"}})
    assert token_for(SERVER, {**env, "DEVBENCH_LAVA_TOKEN": SECRET}) == SECRET


def test_the_identity_whose_uri_and_user_match(tmp_path: Path) -> None:
    env = _identities(tmp_path, {
        "other-server": {"uri": "http://lava.example/RPC2", "username": "alice", "token": "no"},
        "other-user": {"uri": "http://127.0.0.1:8080/RPC2", "username": "bob", "token": "no"},
        "mine": {"uri": "http://127.0.0.1:8080/RPC2", "username": "alice", "token": SECRET},
    })
    assert token_for(SERVER, env) == SECRET
    named = ServerRef(url=SERVER.url, user="alice", identity="other-user")
    assert token_for(named, env) == "no"


@pytest.mark.parametrize("data, says", [
    (None, "does not exist"),
    ({"x": {"uri": "http://lava.example/RPC2", "username": "alice", "token": SECRET}}, "add an identity with uri"),
    ({"x": {"uri": "http://127.0.0.1:8080/RPC2", "username": "alice"}}, "has no token"),
    (["not", "a", "mapping"], "not a mapping"),
])
def test_no_token_is_one_line_naming_where_devbench_looked(tmp_path: Path, data: object, says: str) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)} if data is None else _identities(tmp_path, data)
    with pytest.raises(TokenMissing) as exc:
        token_for(SERVER, env)
    text = str(exc.value)
    assert says in text and "\n" not in text and SECRET not in text
    assert "lavacli.yaml" in text  # where it looked


@pytest.mark.parametrize("key", ["token", "password"])
def test_a_token_in_the_options_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        options_from_mapping({**BASE, "server": {"url": "http://127.0.0.1:8080/", "user": "alice", key: SECRET}},
                             "lava.yaml")
    assert f"server.{key}" in str(exc.value) and "never in a file" in str(exc.value)
    assert SECRET not in str(exc.value)


def test_payload_dir_needs_base_url_and_an_abi() -> None:
    ok = options_from_mapping({**BASE, "payload": {"dir": "/srv/files", "base_url": "http://10.0.2.2:8010/"}})
    assert ok.payload_abi() == "x86_64" and ok.payload.url is None
    with pytest.raises(ConfigError, match="dir: and base_url: go together"):
        options_from_mapping({**BASE, "payload": {"dir": "/srv/files"}})
    board = {"device_type": "b", "payload": {"dir": "/srv", "base_url": "http://f.example/"},
             "deploy": {"to": "tftp"}, "boot": {"method": "u-boot"}}
    with pytest.raises(ConfigError, match="needs the device's ABI"):
        options_from_mapping(board)
    assert options_from_mapping({**board, "abi": "aarch64"}).payload_abi() == "aarch64"


class _Refuse(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_token_goes_in_a_header_and_never_into_an_error() -> None:
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Refuse)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        api = LavaApi(f"http://127.0.0.1:{srv.server_address[1]}/", "alice", SECRET, timeout_s=5)
        with pytest.raises(LavaApiError) as exc:
            api.whoami()
        assert str(exc.value) == "LAVA system.whoami: HTTP 401 Unauthorized"
        assert SECRET not in repr(api) and SECRET not in repr(api.clone())
        assert _Refuse.seen and all(h.startswith("Basic ") for h in _Refuse.seen)
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("url,insecure,ok", [
    ("https://lava.example.org/", None, True),
    ("http://127.0.0.1:8080/", None, True),  # the lab's instance: loopback
    ("http://[::1]:8080/", None, True),
    ("http://localhost/", None, True),
    ("http://lava.example.org/", None, False),  # the token would cross the network in clear
    ("http://10.1.2.3/", None, False),
    ("http://lava.example.org/", True, True),  # the explicit opt-in
    ("http://lava.example.org/", False, False),
])
def test_an_http_server_outside_loopback_needs_an_explicit_opt_in(url, insecure, ok):
    server = {"url": url, "user": "alice", **({} if insecure is None else {"insecure_http": insecure})}
    if ok:
        assert options_from_mapping({**BASE, "server": server}).server.url == url
    else:
        with pytest.raises(ConfigError) as err:
            options_from_mapping({**BASE, "server": server})
        assert "server.url" in str(err.value) and "token in clear" in str(err.value) and "\n" not in str(err.value)
