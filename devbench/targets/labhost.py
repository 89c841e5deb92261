"""adb devices attached to a lab host: its adb server, reached through an SSH tunnel, then an
ordinary adb target; and the devices a `select:` pattern picks on it."""

from __future__ import annotations

import re
from dataclasses import replace

import adbutils

from devbench.config import AdbOptions, Config, TargetConfig
from devbench.errors import TargetError
from devbench.targets.adb import AdbTarget
from devbench.targets.base import AdbBacked
from devbench.targets.tunnel import TUNNELS


class LabHostAdbTarget(AdbBacked):
    transport = "adb"

    def __init__(self, name: str, options: AdbOptions):
        host = options.lab_host
        assert host is not None
        self.name = name
        self.host = host
        tunnel = TUNNELS.acquire(host, name)
        try:
            self.adb = AdbTarget(
                name, replace(options, server_host="127.0.0.1", server_port=tunnel.port, via=None, lab_host=None)
            )
        except BaseException:
            TUNNELS.release(host)
            raise
        self.workdir = options.workdir
        self.serial = self.adb.serial
        self.info = {"via": host.name, "lab_host": f"{host.ssh.user}@{host.ssh.host}:{host.ssh.port}",
                     "adb_server": f"127.0.0.1:{host.adb_port} on {host.name}", "serial": self.serial}

    def close(self) -> None:
        try:
            self.adb.close()
        finally:
            TUNNELS.release(self.host)


def _devices(client: adbutils.AdbClient, where: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for d in client.list(extended=True):
        if d.state != "device":
            continue
        props = dict(getattr(d, "tags", {}) or {})
        try:
            props["abi"] = client.device(d.serial).getprop("ro.product.cpu.abi") or ""
        except (adbutils.AdbError, OSError):
            props["abi"] = ""
        out.append((d.serial, props))
    return out


def matches(select: str, props: dict[str, str]) -> bool:
    if select == "all":
        return True
    kind, _, pattern = select.partition(":")
    value = props.get("model", "") if kind == "model" else props.get("abi", "")
    return re.fullmatch(pattern, value) is not None


def expand(cfg: Config) -> Config:
    """Replace each `select:` target by one target per matching device (named NAME-SERIAL)."""
    if not any(isinstance(t.options, AdbOptions) and t.options.select for t in cfg.targets):
        return cfg
    out: list[TargetConfig] = []
    for t in cfg.targets:
        o = t.options
        if not (isinstance(o, AdbOptions) and o.select):
            out.append(t)
            continue
        host = o.lab_host
        tunnel = TUNNELS.acquire(host, t.name) if host else None
        try:
            server = ("127.0.0.1", tunnel.port) if tunnel else _server(t.name, o)
            client = adbutils.AdbClient(host=server[0], port=server[1], socket_timeout=30)
            where = f"lab host {host.name}" if host else f"adb server {server[0]}:{server[1]}"
            try:
                found = [(s, p) for s, p in _devices(client, where) if matches(o.select, p)]
            except (adbutils.AdbError, OSError) as exc:
                raise TargetError(t.name, "select", f"cannot list the devices of {where}: {exc}") from None
        finally:
            if host:
                TUNNELS.release(host)
        if not found:
            raise TargetError(t.name, "select", f"no device of {where} matches {o.select!r}")
        for serial, _ in found:
            out.append(TargetConfig(selected_name(t.name, serial), "adb", replace(o, serial=serial, select=None)))
    _unique(out)
    return replace(cfg, targets=tuple(out))


def selected_name(name: str, serial: str) -> str:
    """NAME-SERIAL as a target name: plain characters, at most 64 (the serial is the device's)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}-{serial}")[:64]


def _unique(targets: list[TargetConfig]) -> None:
    """Two targets never share a name (their results and profile folders would mix): a serial
    that, made plain or cut to 64 characters, gives a name already taken is refused."""
    seen: dict[str, TargetConfig] = {}
    for t in targets:
        if t.name in seen:
            first = seen[t.name]
            serials = [x.options.serial for x in (first, t) if isinstance(x.options, AdbOptions)]
            raise TargetError(
                t.name,
                "select",
                f"devices {' and '.join(repr(s) for s in serials)} both give the target "
                f"name {t.name!r} (made plain, at most 64 characters): name them in targets:",
            )
        seen[t.name] = t



def _server(name: str, o: AdbOptions) -> tuple[str, int]:
    """The adb server of a select: target (the config's, else adb's environment variables)."""
    try:
        address = o.resolved_server()
    except ValueError as exc:
        raise TargetError(name, "select", str(exc)) from None
    return address.host, address.port
