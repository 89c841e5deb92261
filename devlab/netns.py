"""Network namespaces with a veth pair to the host: one per lab device, no route out."""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devbench.guest.errors import LabError

NETNS_PREFIX = "devbench-lab-"
SUBNET_PREFIX = "10.231"  # device i: host 10.231.i.1/30 <-> device 10.231.i.2/30


def run_ip(*args: str, step: str = "netns", check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; raise LabError with its stderr if it fails and ``check``."""
    cp = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and cp.returncode != 0:
        raise LabError(step, f"ip {' '.join(args)}: {cp.stderr.strip() or cp.stdout.strip()} (exit {cp.returncode})")
    return cp


def list_netns() -> list[str]:
    """Names from ``ip netns list``."""
    cp = run_ip("netns", "list", check=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def netns_usable() -> str | None:
    """None if network namespaces can be created here, else the reason why not."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, mounts, chroot)"
    for tool in ("ip", "unshare", "mount", "chroot"):
        if not any((Path(d) / tool).exists() for d in os.environ.get("PATH", "/usr/sbin:/usr/bin").split(":")
                   + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]):
            return f"{tool} not found"
    probe = f"{NETNS_PREFIX}probe-{os.getpid()}"
    cp = run_ip("netns", "add", probe, check=False)
    if cp.returncode != 0:
        return f"ip netns add failed: {cp.stderr.strip()}"
    run_ip("netns", "delete", probe, check=False)
    return None


def _host_addresses() -> str:
    return run_ip("-o", "-4", "addr", "show", check=False).stdout


def _links() -> set[str]:
    out = run_ip("-o", "link", "show", check=False).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


@dataclass
class Netns:
    """A claimed namespace: ``name``, host-side veth ``host_if``/``host_address``, device side
    ``dev_if``/``address`` (prefix /30, no default route inside)."""

    index: int
    name: str
    host_if: str
    dev_if: str
    host_address: str
    address: str
    prefix: int = 30

    def exists(self) -> bool:
        return self.name in list_netns()

    def delete(self) -> None:
        """Delete the namespace and the host end of the veth pair (idempotent)."""
        if self.exists():
            run_ip("netns", "delete", self.name, check=False)
        if self.host_if in _links():
            run_ip("link", "delete", self.host_if, check=False)
        if self.exists():
            raise LabError("netns", f"namespace {self.name} still exists after ip netns delete")


def create_netns(index: int | None = None, attempts: int = 40) -> Netns:
    """Claim a free index (``ip netns add`` is the atomic claim), add the veth pair, set addresses."""
    used = _host_addresses()
    links = _links()
    existing = set(list_netns())
    candidates = [index] if index is not None else random.sample(range(1, 255), 254)
    tried = 0
    for i in candidates:
        name = f"{NETNS_PREFIX}{i}"
        host_if, dev_if = f"dbl{i}h", f"dbl{i}d"
        host_addr, dev_addr = f"{SUBNET_PREFIX}.{i}.1", f"{SUBNET_PREFIX}.{i}.2"
        if name in existing or host_if in links or f" {SUBNET_PREFIX}.{i}." in used:
            continue
        tried += 1
        if tried > attempts:
            break
        if run_ip("netns", "add", name, check=False).returncode != 0:
            continue  # lost a race with another lab process: try the next index
        ns = Netns(i, name, host_if, dev_if, host_addr, dev_addr)
        try:
            run_ip("link", "add", host_if, "type", "veth", "peer", "name", dev_if, "netns", name)
            run_ip("addr", "add", f"{host_addr}/30", "dev", host_if)
            run_ip("link", "set", host_if, "up")
            run_ip("-n", name, "link", "set", "lo", "up")
            run_ip("-n", name, "addr", "add", f"{dev_addr}/30", "dev", dev_if)
            run_ip("-n", name, "link", "set", dev_if, "up")
        except BaseException:
            ns.delete()
            raise
        return ns
    raise LabError("netns", f"no free lab namespace index (prefix {NETNS_PREFIX}, subnet {SUBNET_PREFIX}.X.0/30)")
