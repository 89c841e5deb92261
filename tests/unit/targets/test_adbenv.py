"""adb's conventions (devbench/targets/adbenv.py): which server, which device."""

from __future__ import annotations

import pytest

from devbench.config import AdbOptions, parse_text, with_overrides
from devbench.errors import ConfigError
from devbench.targets.adbenv import AdbEnvError, NoDevice, parse_server_socket, pick_serial, server_address

BENCH = "benchmark: {scenarios: [{name: a, pages: 0}]}\n"


def test_server_default_and_adb_variables() -> None:
    assert (server_address(None, None, {}).host, server_address(None, None, {}).port) == ("127.0.0.1", 5037)
    a = server_address(None, None, {"ANDROID_ADB_SERVER_HOST": "10.0.0.2", "ANDROID_ADB_SERVER_PORT": "5099"})
    assert (a.host, a.port, a.source) == ("10.0.0.2", 5099, "ANDROID_ADB_SERVER_HOST+ANDROID_ADB_SERVER_PORT")
    assert (
        server_address(None, None, {"ANDROID_ADB_SERVER_ADDRESS": "h1", "ANDROID_ADB_SERVER_HOST": "h2"}).host == "h1"
    )


def test_server_socket_wins_over_the_variables_but_not_over_the_config() -> None:
    env = {"ADB_SERVER_SOCKET": "tcp:192.0.2.5:6000", "ANDROID_ADB_SERVER_PORT": "5099"}
    a = server_address(None, None, env)
    assert (a.host, a.port, a.source) == ("192.0.2.5", 6000, "ADB_SERVER_SOCKET")
    b = server_address(None, 7000, env)  # the config names a port: the socket is off (as adb -P)
    assert (b.host, b.port, b.source) == ("127.0.0.1", 7000, "config")
    c = server_address("h", 1, env)
    assert (c.host, c.port, c.source) == ("h", 1, "config")


@pytest.mark.parametrize("text,want", [("tcp:5038", ("127.0.0.1", 5038)), ("tcp:localhost:5040", ("localhost", 5040)),
                                       ("tcp:[::1]:5041", ("::1", 5041))])
def test_server_socket_forms(text: str, want: tuple[str, int]) -> None:
    assert parse_server_socket(text) == want


@pytest.mark.parametrize(
    "text", ["localfilesystem:/tmp/adb", "tcp:", "tcp:host:", "tcp:host:99999", "tcp:a b:1", "5037"]
)
def test_server_socket_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(AdbEnvError) as e:
        parse_server_socket(text)
    assert str(e.value).startswith("$ADB_SERVER_SOCKET=")


def test_bad_port_variable_named() -> None:
    with pytest.raises(AdbEnvError, match=r"\$ANDROID_ADB_SERVER_PORT='x'"):
        server_address(None, None, {"ANDROID_ADB_SERVER_PORT": "x"})


def test_pick_serial_environment_then_single_device() -> None:
    assert pick_serial({"a": "device", "b": "device"}, {"ANDROID_SERIAL": "b"}, "s") == ("b", "$ANDROID_SERIAL")
    assert pick_serial({"a": "device", "b": "offline"}, {}, "s") == ("a", "the only device attached")


def test_pick_serial_several_lists_them() -> None:
    with pytest.raises(NoDevice) as e:
        pick_serial({"z9": "device", "a1": "device"}, {}, "adb server 127.0.0.1:5037")
    assert "2 adb devices attached to adb server 127.0.0.1:5037: a1, z9" in str(e.value) and "--serial" in str(e.value)


def test_pick_serial_none_names_unready_ones() -> None:
    with pytest.raises(NoDevice, match=r"no adb device attached to s in state 'device' \(seen: q \(unauthorized\)\)"):
        pick_serial({"q": "unauthorized"}, {}, "s")


def test_config_adb_without_device_and_typo() -> None:
    cfg = parse_text("targets: [{name: p, adb: {}}]\n" + BENCH)
    o = cfg.targets[0].options
    assert isinstance(o, AdbOptions) and (o.serial, o.connect, o.select, o.server_host) == (None, None, None, None)
    with pytest.raises(ConfigError) as e:
        parse_text("targets: [{name: p, adb: {serail: X}}]\n" + BENCH)
    assert e.value.field == "targets[0].adb.serail" and "did you mean 'serial'" in e.value.message
    with pytest.raises(ConfigError, match="at most one of serial:"):
        parse_text("targets: [{name: p, adb: {serial: X, connect: 'h:5555'}}]\n" + BENCH)


def test_config_server_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_HOST", "10.1.2.3")
    monkeypatch.delenv("ADB_SERVER_SOCKET", raising=False)
    o = parse_text("targets: [{name: p, adb: {serial: X}}]\n" + BENCH).targets[0].options
    assert isinstance(o, AdbOptions) and o.resolved_server().host == "10.1.2.3"
    o = parse_text("targets: [{name: p, adb: {serial: X, server_host: h}}]\n" + BENCH).targets[0].options
    assert isinstance(o, AdbOptions) and o.resolved_server().host == "h"


def test_serial_override_goes_to_the_target_without_device() -> None:
    cfg = parse_text("targets: [{name: p, adb: {}}, {name: q, adb: {serial: Q}}]\n" + BENCH)
    out = with_overrides(cfg, serial="S1")
    assert [t.options.serial for t in out.targets] == ["S1", "Q"]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="names no device") as e:
        with_overrides(cfg, targets=["q"], serial="S1")
    assert e.value.field == "--serial"


def test_serial_override_is_recorded_in_the_config_run() -> None:
    cfg = parse_text("targets: [{name: p, adb: {}}]\n" + BENCH)
    out = with_overrides(cfg, serial="S1")
    assert out.raw["targets"][0]["adb"] == {"serial": "S1"} and cfg.raw["targets"][0]["adb"] == {}


def test_serials_in_messages_are_shown_not_obeyed() -> None:
    with pytest.raises(NoDevice) as e:
        pick_serial({"a\x1b[2J": "device", "b": "device"}, {}, "s")
    assert "\x1b" not in str(e.value) and "a\\x1b[2J, b" in str(e.value)
    # the serial itself, as the server has it
    assert pick_serial({"a\x1b": "device"}, {}, "s") == ("a\x1b", "the only device attached")


def test_a_missing_local_server_is_started_on_the_port_adb_would_start_it_on():
    from devbench.targets.adbenv import start_server_port

    assert start_server_port({}) == 5037
    assert start_server_port({"ANDROID_ADB_SERVER_PORT": "41234"}) == 41234
    assert start_server_port({"ANDROID_ADB_SERVER_PORT": "x"}) is None
    assert start_server_port({"ANDROID_ADB_SERVER_PORT": "70000"}) is None
