"""adb: an Android (or any adbd) device on an adb server: this host's, or a lab host's reached
over SSH (via:), by serial, host:port to `adb connect`, select: (one target per matching
device), or none named (--serial, $ANDROID_SERIAL or the only device attached)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from devbench.targets.kinds.base import Kind, Opening
from devbench.targets.kinds.ssh import SshOptions
from devbench.targets.kinds.values import device_dir, host_port, own_section

if TYPE_CHECKING:
    from devbench.config.model import TargetConfig
    from devbench.config.yamlsrc import Section
    from devbench.targets.adbenv import ServerAddress
    from devbench.targets.base import Target


@dataclass(frozen=True)
class LabHost:
    """A lab machine with devices on its own adb server, reached over SSH (a local port is
    forwarded through SSH to its adb server)."""
    name: str
    ssh: SshOptions
    adb_port: int = 5037


@dataclass(frozen=True)
class AdbOptions:
    serial: str | None = None
    connect: str | None = None  # host:port of a networked adbd to `adb connect`
    server_host: str | None = (
        None  # None: as adb itself ($ADB_SERVER_SOCKET, $ANDROID_ADB_SERVER_ADDRESS/_HOST, 127.0.0.1)
    )
    server_port: int | None = None  # None: $ADB_SERVER_SOCKET, $ANDROID_ADB_SERVER_PORT or 5037, as adb itself
    workdir: str = "/data/local/tmp/devbench"
    via: str | None = None  # a lab host (lab_hosts:) whose adb server has the device, reached over SSH
    select: str | None = None  # instead of serial: all | model:REGEX | abi:ABI (one target per matching device)
    lab_host: LabHost | None = field(default=None, compare=False)  # resolved from `via`

    # serial, connect and select all None: the device is --serial, $ANDROID_SERIAL or the only one attached

    def resolved_server(self) -> ServerAddress:
        """The adb server (config, then adb's environment variables); raises AdbEnvError."""
        from devbench.targets.adbenv import server_address

        return server_address(self.server_host, self.server_port, os.environ)

    def resolved_server_port(self) -> int:
        return self.resolved_server().port


def select(value: Any) -> str:
    if value == "all":
        return value
    if isinstance(value, str) and value.startswith(("model:", "abi:")):
        kind, _, pattern = value.partition(":")
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"{kind}: is not a valid regular expression ({exc})") from None
        if pattern:
            return value
    raise ValueError(f"must be all, model:REGEX or abi:ABI (got {value!r})")


def parse(target: Section, lab_hosts: Mapping[str, LabHost]) -> AdbOptions:
    sec = own_section(target, "adb")
    opts = AdbOptions(
        serial=sec.string("serial", None),
        connect=sec.value("connect", host_port, None),
        server_host=sec.string("server_host", None),
        server_port=sec.integer("server_port", None, lo=1, hi=65535),
        workdir=sec.value("workdir", device_dir, "/data/local/tmp/devbench"),
        via=sec.string("via", None),
        select=sec.value("select", select, None),
    )
    if opts.via is not None:
        if opts.via not in lab_hosts:
            raise sec.error("via", f"no lab host named {opts.via!r} under lab_hosts: "
                                   f"(have: {', '.join(sorted(lab_hosts)) or 'none'})")
        opts = replace(opts, lab_host=lab_hosts[opts.via])
    sec.done()  # a typo (serail:) is named before the one-of check below
    if sum(x is not None for x in (opts.serial, opts.connect, opts.select)) > 1:
        raise target.error(
            "adb",
            "takes at most one of serial:, connect: (host:port) or select: (all, model:REGEX, abi:ABI)"
            " (none: --serial, $ANDROID_SERIAL or the only device attached)",
        )
    return opts


def open_adb(cfg: TargetConfig, opening: Opening) -> Target:
    assert isinstance(cfg.options, AdbOptions)
    if cfg.options.via:
        from devbench.targets.labhost import LabHostAdbTarget

        return LabHostAdbTarget(cfg.name, cfg.options)
    from devbench.targets.adb import AdbTarget

    return AdbTarget(cfg.name, cfg.options)


def device_key(o: AdbOptions) -> tuple[Any, ...] | None:
    if o.select is not None:
        return None
    try:
        server: object = str(o.resolved_server()) if o.via is None else (o.server_host, o.server_port)
    except ValueError:  # a bad adb environment variable: said when the target connects
        server = (o.server_host, o.server_port)
    return ("adb", o.via, server, o.connect or o.serial)


def unnamed(options: object) -> bool:
    """adb options that name no device (adb: {}): --serial, $ANDROID_SERIAL or the only one attached."""
    o = options
    return isinstance(o, AdbOptions) and o.serial is None and o.connect is None and o.select is None


KIND = Kind("adb", AdbOptions, parse, open_adb, device_key)
