"""adb's own conventions, as pure functions: which adb server, and which device.

The server, as adb itself picks it: the config's server_host/server_port win; without
them, $ADB_SERVER_SOCKET (tcp:PORT or tcp:HOST:PORT), else $ANDROID_ADB_SERVER_ADDRESS (adb's
name) or $ANDROID_ADB_SERVER_HOST (adbutils' name) and $ANDROID_ADB_SERVER_PORT, else
127.0.0.1:5037.

The device of a target that names none (`adb: {}`): --serial/-s (put into the config by
the CLI), else $ANDROID_SERIAL, else the one device attached; several is an error that lists
them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from devbench.textsafe import shown

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5037


class AdbEnvError(ValueError):
    """An adb environment variable holds what adb would not take; carries the variable."""

    def __init__(self, variable: str, value: str, message: str):
        super().__init__(f"${variable}={value!r}: {message}")
        self.variable, self.value = variable, value


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    source: str  # config, ADB_SERVER_SOCKET, ANDROID_ADB_SERVER_*, default, or a mix (config+ANDROID_ADB_SERVER_PORT)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _port(variable: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AdbEnvError(variable, text, "not a port number 1..65535")
    return int(text)


def parse_server_socket(value: str) -> tuple[str, int]:
    """ADB_SERVER_SOCKET: tcp:PORT, tcp:HOST:PORT or tcp:[IPV6]:PORT (adb's localfilesystem:
    and localabstract: sockets are refused: adbutils speaks TCP only)."""
    kind, _, rest = value.partition(":")
    if kind != "tcp":
        raise AdbEnvError("ADB_SERVER_SOCKET", value, "only tcp:PORT or tcp:HOST:PORT is supported")
    if rest.isdigit():
        return DEFAULT_HOST, _port("ADB_SERVER_SOCKET", rest)
    host, _, port = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not re.fullmatch(r"[A-Za-z0-9.\-:]+", host):
        raise AdbEnvError("ADB_SERVER_SOCKET", value, "not tcp:PORT or tcp:HOST:PORT")
    return host, _port("ADB_SERVER_SOCKET", port)


def server_address(host: str | None, port: int | None, environ: Mapping[str, str]) -> ServerAddress:
    """The adb server a target talks to (host, port: the config's, None where it says nothing)."""
    if host is not None and port is not None:
        return ServerAddress(host, port, "config")
    socket = environ.get("ADB_SERVER_SOCKET", "")
    if socket and host is None and port is None:  # as adb: -H/-P (here: the config) turn it off
        h, p = parse_server_socket(socket)
        return ServerAddress(h, p, "ADB_SERVER_SOCKET")
    sources = ["config"] if host is not None or port is not None else []
    if host is None:
        for var in ("ANDROID_ADB_SERVER_ADDRESS", "ANDROID_ADB_SERVER_HOST"):
            if environ.get(var):
                host = environ[var]
                if not re.fullmatch(r"[A-Za-z0-9.\-:]+", host):
                    raise AdbEnvError(var, host, "not a host name or address")
                sources.append(var)
                break
    if port is None and environ.get("ANDROID_ADB_SERVER_PORT"):
        port = _port("ANDROID_ADB_SERVER_PORT", environ["ANDROID_ADB_SERVER_PORT"])
        sources.append("ANDROID_ADB_SERVER_PORT")
    return ServerAddress(host or DEFAULT_HOST, port or DEFAULT_PORT, "+".join(sources) or "default")


def start_server_port(environ: Mapping[str, str]) -> int | None:
    """The port `adb start-server` starts a local server on: $ANDROID_ADB_SERVER_PORT, else
    5037 (None when that variable is not a port: adb would refuse it)."""
    try:
        return _port("ANDROID_ADB_SERVER_PORT", environ.get("ANDROID_ADB_SERVER_PORT") or str(DEFAULT_PORT))
    except AdbEnvError:
        return None


class NoDevice(LookupError):
    """No device could be chosen for a target that names none; the message says why."""


def pick_serial(attached: Mapping[str, str], environ: Mapping[str, str], where: str) -> tuple[str, str]:
    """(serial, how it was chosen) for a target that names no device: $ANDROID_SERIAL, else
    the one attached device in state "device". attached: serial -> state, as `adb devices`."""
    env = environ.get("ANDROID_SERIAL", "")
    if env:
        return env, "$ANDROID_SERIAL"
    ready = sorted(s for s, state in attached.items() if state == "device")
    if len(ready) == 1:
        return ready[0], "the only device attached"
    others = ", ".join(f"{shown(s)} ({shown(st)})" for s, st in sorted(attached.items()) if st != "device")
    if not ready:
        raise NoDevice(f"no adb device attached to {where}" + (f" in state 'device' (seen: {others})" if others else "")
                       + "; the target names none (adb: serial:, connect:, --serial or $ANDROID_SERIAL)")
    raise NoDevice(
        f"{len(ready)} adb devices attached to {where}: {', '.join(map(shown, ready))}; the target names none: "
        "choose one with --serial SERIAL, $ANDROID_SERIAL or adb: {serial: SERIAL}"
    )


