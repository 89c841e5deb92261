"""Debian's stock kernel for QEMU guests: the honest negative case (no CONFIG_ANON_VMA_NAME).

:func:`stock_kernel` downloads (never installs) the host release's kernel package with
``apt-get download`` from the machine's own apt sources, plus ``busybox-static``; extracts
both with ``dpkg-deb -x``; and builds a small initramfs (cpio newc, gzip, written in Python)
that loads the modules needed to reach the guest disk and network, mounts the disk and
``switch_root``s into the guest image's ``/sbin/devbench-guest-init``.

Flavour: ``cloud`` (default) is ``linux-image-cloud-amd64``'s dependency, e.g.
``linux-image-6.1.0-NN-cloud-amd64``: a stock Debian kernel made for VMs, a third of the
generic package's size (27 MB vs 70 MB), with ext4 and crc32c built in and virtio
(pci, blk, net) as modules. ``generic`` (``linux-image-amd64``) works too: ext4 and its
dependencies are then loaded from the initramfs as well.

Cache layout (``$DEVBENCH_CACHE/qemu``, else ``~/.cache/devbench/qemu``)::

    stock-<package>_<version>-<key>/vmlinuz-<release>   the kernel
    stock-<package>_<version>-<key>/config-<release>    its config (found by kconfig.find_config)
    stock-<package>_<version>-<key>/initrd.img          the initramfs
    stock-<package>_<version>-<key>/info.json
    stock-<package>_<version>-<key>.complete            written last
    stock-<package>_<version>-<key>.lock                fcntl lock of builders
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devbench.cache import building, fresh_tmp, is_complete, mark_complete

from .errors import QemuError
from .image import FAILED_MARKER, INIT_PATH, qemu_cache_root

_FORMAT = "1"  # bump when the initramfs recipe changes
DEBIAN_ARCHES = {"x86_64": "amd64"}  # stock kernels: only what the host's apt has (no foreign arch)
FLAVOURS = {"cloud": "linux-image-cloud-{deb}", "generic": "linux-image-{deb}"}
BUSYBOX_PACKAGE = "busybox-static"
# modules the guest needs (each with what modules.dep says it needs); built-ins are skipped
REQUIRED_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "ext4")
# loaded when the package has them: crc32c for ext4 (a soft dependency, not in modules.dep),
# inet_diag/tcp_diag for the guest init's `ss -lt`
OPTIONAL_MODULES = ("crc32c_generic", "inet_diag", "tcp_diag")
DISK_WAIT_S = 30

INIT = r"""#!/bin/busybox sh
# devbench stock-kernel initramfs: load the modules, mount the guest disk, switch_root.
export PATH=/bin
fail() {{
    echo "{failed}: initramfs: $*"
    reboot -f
    exit 1
}}
mkdir -p /proc /sys /dev /newroot
mount -t proc -o nosuid,nodev,noexec proc /proc || fail "mount proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "mount sysfs"
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev || fail "mount devtmpfs"
exec </dev/console >/dev/console 2>&1
echo "devbench-initramfs: $(uname -r): loading modules"
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$m" || fail "insmod $m"
done < /modules.load
i=0
while [ ! -b /dev/vda ]; do
    i=$((i + 1))
    [ "$i" -le {wait_steps} ] || fail "no /dev/vda after {wait_s} s (virtio_blk)"
    sleep 0.1
done
mount -t ext4 -o rw /dev/vda /newroot || fail "mount /dev/vda (ext4) on /newroot"
[ -e "/newroot{init}" ] || [ -L "/newroot{init}" ] || fail "no {init} on /dev/vda"
umount /proc /sys
mount --move /dev /newroot/dev || umount /dev
exec switch_root /newroot {init}
fail "switch_root failed"
"""


def init_script() -> str:
    return INIT.format(failed=FAILED_MARKER, init=INIT_PATH, wait_s=DISK_WAIT_S, wait_steps=DISK_WAIT_S * 10)


@dataclass(frozen=True)
class StockKernel:
    """A cached Debian stock kernel: ``kernel`` (vmlinuz), ``initrd`` (initramfs),
    ``version`` (the kernel release, ``uname -r``), ``package`` ("name_version" of the
    Debian package), ``config`` (the package's config file), ``info`` (info.json)."""

    kernel: Path
    initrd: Path
    version: str
    package: str
    config: Path | None = None
    info: Mapping[str, object] | None = None

    @classmethod
    def from_dir(cls, d: Path) -> StockKernel:
        info = json.loads((d / "info.json").read_text())
        return cls(kernel=d / info["kernel"], initrd=d / info["initrd"], version=info["release"],
                   package=f"{info['package']}_{info['package_version']}", config=d / info["config"], info=info)


# -- pure parts ----------------------------------------------------------------------------------

def module_name(path: str) -> str:
    """``kernel/drivers/char/hw_random/virtio-rng.ko.xz`` -> ``virtio_rng``."""
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base)
    return base.replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, list[str]]]:
    """modules.dep -> {name: (path, [paths of its dependencies, as listed])}."""
    out: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        path, deps = line.split(":", 1)
        path = path.strip()
        out[module_name(path)] = (path, deps.split())
    return out


def load_order(dep_text: str, wanted: Sequence[str], optional: Sequence[str] = (),
               builtin: Iterable[str] = ()) -> list[str]:
    """Paths of the modules to insmod, dependencies first, each once.

    ``wanted`` must be modules of modules.dep or built in (else QemuError); ``optional``
    ones are taken when present. modules.dep lists a module's full dependency closure with
    the deepest last, so loading the list reversed, then the module, is a valid order; the
    resolution here recurses anyway, so a partial list works too."""
    deps = parse_modules_dep(dep_text)
    builtins = {module_name(b) for b in builtin}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen or name in builtins:
            return
        if name in chain:
            raise QemuError("stock-kernel", f"module dependency cycle: {' -> '.join(chain + (name,))}")
        path, needs = deps[name]
        for d in reversed(needs):
            dn = module_name(d)
            if dn not in deps:
                if dn in builtins:
                    continue
                raise QemuError("stock-kernel", f"module {name} needs {dn}, which modules.dep does not list")
            visit(dn, chain + (name,))
        seen.add(name)
        order.append(path)

    for raw in wanted:
        name = module_name(raw)
        if name in builtins:
            continue
        if name not in deps:
            raise QemuError("stock-kernel", f"module {name} is neither in modules.dep nor built in")
        visit(name, ())
    for raw in optional:
        name = module_name(raw)
        if name in deps:
            visit(name, ())
    return order


def cpio_newc(entries: Iterable[tuple[str, int, bytes, int]]) -> bytes:
    """A cpio "newc" archive of (name, mode, data, rdev) entries, owned by root. ``mode``
    holds the file type (S_IFREG, S_IFDIR, S_IFLNK with the target as data, S_IFCHR with
    ``rdev`` = (major << 8) | minor)."""
    out = io.BytesIO()

    def put(ino: int, name: str, mode: int, data: bytes, rdev: int) -> None:
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0,
            rdev >> 8, rdev & 0xFF, len(nb), 0))
        out.write(hdr.encode() + nb)
        out.write(b"\0" * (-(110 + len(nb)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))

    ino = 1
    for name, mode, data, rdev in entries:
        put(ino, name.lstrip("/"), mode, data, rdev)
        ino += 1
    put(0, "TRAILER!!!", 0, b"", 0)
    return out.getvalue()


# -- apt -----------------------------------------------------------------------------------------

def _run(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise QemuError("stock-kernel", f"{cmd[0]} is not installed (Debian's apt and dpkg are needed)") from None
    except subprocess.TimeoutExpired:
        raise QemuError("stock-kernel", f"{' '.join(cmd)} timed out after {timeout:g} s") from None


def _candidate(package: str) -> str:
    cp = _run(["apt-cache", "policy", package])
    m = re.search(r"^\s*Candidate:\s*(\S+)", cp.stdout, re.M)
    if cp.returncode != 0 or not m or m.group(1) == "(none)":
        raise QemuError("stock-kernel", f"apt has no candidate for package {package} "
                                        "(run apt-get update, check the machine's apt sources)")
    return m.group(1)


def resolve_package(arch: str = "x86_64", flavour: str = "cloud") -> tuple[str, str]:
    """(concrete kernel package, its candidate version) via the metapackage's Depends."""
    if arch not in DEBIAN_ARCHES:
        raise QemuError("stock-kernel", f"stock kernels are available for x86_64 only, not {arch} "
                                        "(the host's apt has no packages of other architectures)")
    if flavour not in FLAVOURS:
        raise QemuError("stock-kernel", f"unknown flavour {flavour!r} ({' or '.join(FLAVOURS)})")
    meta = FLAVOURS[flavour].format(deb=DEBIAN_ARCHES[arch])
    cp = _run(["apt-cache", "depends", meta])
    pkgs = re.findall(r"^\s*Depends:\s*(linux-image-\S+)", cp.stdout, re.M)
    if cp.returncode != 0 or not pkgs:
        raise QemuError("stock-kernel", f"apt does not know package {meta} "
                                        f"(run apt-get update, check the machine's apt sources): "
                                        f"{(cp.stderr or cp.stdout).strip()[-300:]}")
    pkg = pkgs[0]
    return pkg, _candidate(pkg)


def _download(packages: Sequence[str], dest: Path) -> dict[str, Path]:
    """apt-get download each package into ``dest``; {package: .deb path}."""
    if os.geteuid() == 0:  # let apt's sandbox user write there (else apt warns and downloads as root)
        try:
            os.chown(dest, pwd.getpwnam("_apt").pw_uid, -1)
        except (KeyError, OSError):
            pass
    out = {}
    for pkg in packages:
        cp = _run(["apt-get", "download", "-q", pkg], cwd=dest, timeout=1800)
        debs = sorted(dest.glob(f"{pkg}_*.deb"))
        if cp.returncode != 0 or not debs:
            err = [ln for ln in (cp.stderr + cp.stdout).splitlines() if ln.startswith(("E:", "Err"))]
            raise QemuError("stock-kernel", f"apt-get download {pkg} failed (exit {cp.returncode}): "
                                            f"{' '.join(err)[-400:] or 'no .deb written'}")
        out[pkg] = debs[-1]
    return out


def _extract(deb: Path, dest: Path) -> None:
    cp = _run(["dpkg-deb", "-x", str(deb), str(dest)], timeout=600)
    if cp.returncode != 0:
        raise QemuError("stock-kernel", f"dpkg-deb -x {deb.name} failed: {cp.stderr.strip()[-300:]}")


# -- cache and build -----------------------------------------------------------------------------

def _key(arch: str, flavour: str, pkg: str, version: str, busybox: str) -> str:
    h = hashlib.sha256(json.dumps([_FORMAT, arch, flavour, pkg, version, busybox, init_script(),
                                   REQUIRED_MODULES, OPTIONAL_MODULES]).encode())
    return h.hexdigest()[:12]


def _cached_any(base: Path, arch: str, flavour: str) -> StockKernel | None:
    """Newest complete cached stock kernel of this arch/flavour (when apt cannot answer)."""
    best: tuple[float, Path] | None = None
    for marker in base.glob("stock-*.complete"):
        d = marker.with_name(marker.name[: -len(".complete")])
        try:
            info = json.loads((d / "info.json").read_text())
        except (OSError, ValueError):
            continue
        if info.get("arch") == arch and info.get("flavour") == flavour and info.get("format") == _FORMAT:
            t = marker.stat().st_mtime
            if best is None or t > best[0]:
                best = (t, d)
    return StockKernel.from_dir(best[1]) if best else None


def stock_kernel(arch: str = "x86_64", cache_dir: Path | None = None, *, flavour: str = "cloud",
                 progress: Callable[[str], None] | None = None) -> StockKernel:
    """Download (once) Debian's stock kernel for the host's release, build its initramfs,
    and return both from the cache. ``progress``: an optional callable taking a line."""
    say = progress or (lambda text: None)
    base = Path(cache_dir) if cache_dir is not None else qemu_cache_root()
    try:
        pkg, version = resolve_package(arch, flavour)
        busybox = _candidate(BUSYBOX_PACKAGE)
    except QemuError:
        if arch in DEBIAN_ARCHES and base.is_dir():
            cached = _cached_any(base, arch, flavour)
            if cached is not None:
                return cached
        raise
    final = base / f"stock-{pkg}_{version}-{_key(arch, flavour, pkg, version, busybox)}"
    if not is_complete(final):
        with building(final, on_wait=say) as needed:
            if needed:
                say(f"downloading {pkg} {version} and {BUSYBOX_PACKAGE} {busybox} with apt-get")
                _build(final, arch=arch, flavour=flavour, pkg=pkg, version=version, busybox=busybox)
    return StockKernel.from_dir(final)


def _build(final: Path, *, arch: str, flavour: str, pkg: str, version: str, busybox: str) -> None:
    t0 = time.monotonic()
    tmp = fresh_tmp(final)
    work = Path(tempfile.mkdtemp(prefix="devbench-stock-"))
    os.chmod(work, 0o755)  # apt's sandbox user (_apt) downloads into work/debs
    try:
        dl = work / "debs"
        dl.mkdir()
        debs = _download([pkg, BUSYBOX_PACKAGE], dl)
        kx, bx = work / "kernel", work / "busybox"
        _extract(debs[pkg], kx)
        _extract(debs[BUSYBOX_PACKAGE], bx)
        releases = sorted(p.name for p in (kx / "lib/modules").iterdir()) if (kx / "lib/modules").is_dir() else []
        if len(releases) != 1:
            raise QemuError("stock-kernel", f"{pkg}: expected one lib/modules/<release>, found {releases}")
        release = releases[0]
        vmlinuz = kx / "boot" / f"vmlinuz-{release}"
        config = kx / "boot" / f"config-{release}"
        bb = bx / "bin" / "busybox"
        for f in (vmlinuz, config, bb):
            if not f.is_file():
                raise QemuError("stock-kernel", f"{f.relative_to(work)} missing in the extracted package")
        moddir = kx / "lib/modules" / release
        order = load_order(_modules_dep(moddir, release, kx), REQUIRED_MODULES, OPTIONAL_MODULES,
                           _lines(moddir / "modules.builtin"))
        initrd, listing = _initramfs(bb, moddir, order)
        (tmp / "initrd.img").write_bytes(initrd)
        shutil.copy2(vmlinuz, tmp / vmlinuz.name)
        shutil.copy2(config, tmp / config.name)
        info = {"arch": arch, "flavour": flavour, "package": pkg, "package_version": version,
                "busybox_version": busybox, "release": release, "format": _FORMAT, "kernel": vmlinuz.name,
                "config": config.name, "initrd": "initrd.img", "initrd_bytes": len(initrd),
                "modules": [module_name(p) for p in order], "initramfs": listing,
                "build_seconds": round(time.monotonic() - t0, 1), "built_at": time.time()}
        (tmp / "info.json").write_text(json.dumps(info, indent=1) + "\n")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mark_complete(final, {"built_at": time.time()})


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def _modules_dep(moddir: Path, release: str, root: Path) -> str:
    """The package's modules.dep; Debian generates it in postinst, so run depmod on the
    extracted tree when the package has none."""
    dep = moddir / "modules.dep"
    if not dep.is_file():
        depmod = shutil.which("depmod") or next((p for p in ("/usr/sbin/depmod", "/sbin/depmod")
                                                 if os.path.exists(p)), None)
        if depmod is None:
            raise QemuError("stock-kernel", "depmod is not installed (apt-get install kmod)")
        cp = _run([depmod, "-b", str(root), release], timeout=300)
        if cp.returncode != 0 or not dep.is_file():
            raise QemuError("stock-kernel", f"depmod -b failed: {cp.stderr.strip()[-300:]}")
    return dep.read_text()


def _module_bytes(path: Path) -> bytes:
    """A .ko as busybox insmod takes it: decompressed at build time."""
    name = path.name
    if name.endswith(".ko"):
        return path.read_bytes()
    if name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):
        zstd = shutil.which("zstd")
        if zstd is None:
            raise QemuError("stock-kernel", f"{name} is zstd-compressed: zstd is not installed (apt-get install zstd)")
        cp = subprocess.run([zstd, "-dc", str(path)], capture_output=True, timeout=120)
        if cp.returncode != 0:
            raise QemuError("stock-kernel", f"zstd -d {name} failed")
        return cp.stdout
    raise QemuError("stock-kernel", f"unknown module format {name}")


def _initramfs(busybox: Path, moddir: Path, order: Sequence[str]) -> tuple[bytes, list[str]]:
    """gzip'd cpio newc: /init, /bin/busybox (+ applet links), /lib/modules/*.ko,
    /modules.load (the insmod order), /dev/console. Returns (bytes, listing)."""
    d, f, x, ln = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755, stat.S_IFLNK | 0o777
    entries: list[tuple[str, int, bytes, int]] = [
        (n, d, b"", 0) for n in ("bin", "dev", "lib", "lib/modules", "proc", "sys", "newroot")]
    entries.append(("dev/console", stat.S_IFCHR | 0o600, b"", (5 << 8) | 1))
    entries.append(("bin/busybox", x, busybox.read_bytes(), 0))
    for applet in ("sh", "mount", "umount", "mkdir", "insmod", "sleep", "switch_root", "reboot", "uname",
                   "echo", "cat", "ls"):
        entries.append((f"bin/{applet}", ln, b"busybox", 0))
    loads = []
    for rel in order:
        data = _module_bytes(moddir / rel)
        name = module_name(rel) + ".ko"
        entries.append((f"lib/modules/{name}", f, data, 0))
        loads.append(name)
    entries.append(("modules.load", f, ("\n".join(loads) + "\n").encode(), 0))
    entries.append(("init", x, init_script().encode(), 0))
    raw = cpio_newc(entries)
    listing = [f"{n} ({len(data)} bytes)" if stat.S_ISREG(m) else n for n, m, data, _ in entries]
    return gzip.compress(raw, compresslevel=9, mtime=0), listing


__all__ = ["StockKernel", "cpio_newc", "init_script", "load_order", "module_name", "parse_modules_dep",
           "resolve_package", "stock_kernel"]
