"""``python -m devlab build|up``: warm the rootfs cache, or run one lab device."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devbench.guest.errors import LabError
from devbench.guest.rootfs import DEFAULT_PACKAGES, ensure_rootfs, is_complete, rootfs_path

from .device import LabDevice
from .emulated import lab_device_for
from .netns import netns_usable


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def write_smoke_config(dev: LabDevice, out: Path, adb_server_port: int) -> None:
    """The shipped lab smoke config, with its targets pointed at this lab device."""
    import yaml

    from devbench.resources import data_dir

    cfg = yaml.safe_load((data_dir("configs") / "lab-smoke.yaml").read_text())
    ssh = dev.ssh()
    cfg["targets"] = [
        {"name": "lab-adb", "adb": {"connect": dev.adb_serial, "server_port": adb_server_port}},
        {"name": "lab-ssh", "ssh": {"host": ssh.host, "port": ssh.port, "user": ssh.user,
                                    "key": str(ssh.key), "known_hosts": str(ssh.known_hosts)}},
    ]
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devlab", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build and cache the lab rootfs (prints its path)")
    u = sub.add_parser("up", help="start one lab device, print how to reach it as JSON, run until Ctrl-C/SIGTERM")
    for p in (b, u):
        p.add_argument("--arch", default="amd64")
        p.add_argument("--cache-dir", type=Path, default=None)
    u.add_argument("--ssh-port", type=int, default=2222)
    u.add_argument("--config-out", type=Path, default=None,
                   help="also write configs/lab-smoke.yaml with this device's adb and SSH targets filled in")
    u.add_argument("--adb-server-port", type=int, default=5037, help="adb server the written config connects through")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "build":
            t0 = time.monotonic()
            cached = is_complete(rootfs_path(args.arch, args.cache_dir, DEFAULT_PACKAGES))
            root = ensure_rootfs(args.arch, args.cache_dir)
            print(json.dumps({"rootfs": str(root), "cached": cached,
                              "seconds": round(time.monotonic() - t0, 1)}))
            return 0
        reason = netns_usable()
        if reason:
            raise LabError("netns", reason)
        root = ensure_rootfs(args.arch, args.cache_dir)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        dev = lab_device_for(root, ssh_port=args.ssh_port)
        try:
            dev.start()
            info = dev.describe()
            info["startup_seconds"] = round(dev.startup_seconds or 0.0, 3)
            if args.config_out:
                write_smoke_config(dev, args.config_out, args.adb_server_port)
                info["config"] = str(args.config_out)
            print(json.dumps(info, indent=1), flush=True)
            while dev.running:
                time.sleep(0.5)
            print("lab device exited on its own", file=sys.stderr)
            return 1
        except _Stop:
            return 0
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            dev.stop()
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
