"""Build and cache a lean guest kernel (with ANON_VMA_NAME) from Debian's linux-source package.

Layout under :func:`cache_root` (``$DEVBENCH_CACHE/kernels``, else
``$XDG_CACHE_HOME/devbench/kernels``, else ``~/.cache/devbench/kernels``)::

    linux-6.12-x86_64-<hash>/           bzImage (arm64: Image), config, System.map, vmlinux
    linux-6.12-x86_64-<hash>.complete   JSON: version, arch, hash, build seconds, sizes (written last)
    linux-6.12-x86_64-<hash>.lock       fcntl lock: concurrent callers wait for one builder
    linux-6.12-x86_64-<hash>.log        full output of the last build

``<hash>`` covers the fragment, the base config recipe, the source tarball and the recipe
format. The build runs out of tree (``O=``) in ``<name>.tmp-*`` beside the result (same
filesystem), the result folder is renamed into place, and the unpacked source and build
tree are deleted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devbench import cache as devbench_cache
from devbench.cache import building, fresh_tmp, is_complete, mark_complete, marker_path
from devbench.watchdog import DEFAULT_STALL, Watchdog

from .errors import KernelError
from .fragment import ARCHES, REQUIRED, Arch, base_recipe, build_settings, fragment_text
from .kconfig import parse_config

_CACHE_FORMAT = "2"  # bump when the build recipe changes in a way the fragment does not show
SOURCE_GLOB = "linux-source-*.tar.xz"
SOURCE_DIR = Path("/usr/src")

Progress = Callable[[str], None]

_ARCH: dict[str, dict[str, str]] = {
    "x86_64": {"make_arch": "x86", "target": "bzImage", "image": "arch/x86/boot/bzImage",
               "cross": "", "gcc": "gcc", "apt": "build-essential"},
    "arm64": {"make_arch": "arm64", "target": "Image", "image": "arch/arm64/boot/Image",
              "cross": "aarch64-linux-gnu-", "gcc": "aarch64-linux-gnu-gcc", "apt": "gcc-aarch64-linux-gnu"},
}
BUILD_TOOLS = ("make", "flex", "bison", "bc", "tar", "xz", "perl")
APT_PACKAGES = "build-essential flex bison bc libelf-dev libssl-dev cpio kmod"


@dataclass(frozen=True)
class KernelBuild:
    """A complete cached kernel."""

    image: Path  # bzImage (x86_64) or Image (arm64)
    config: Path  # the final .config of the build
    version: str  # uname -r of the kernel, e.g. "6.12.57-devbench"
    arch: Arch
    fragment_hash: str
    build_seconds: float
    system_map: Path | None = None
    vmlinux: Path | None = None  # unstripped ELF, no DWARF: kernel symbols for perf

    @property
    def root(self) -> Path:
        return self.image.parent


def cache_root() -> Path:
    """``$DEVBENCH_CACHE/kernels``, else ``$XDG_CACHE_HOME/devbench/kernels``, else ``~/.cache/devbench/kernels``."""
    return devbench_cache.cache_root("kernels")


def find_source(source: str | os.PathLike[str] | None = None) -> Path:
    """The kernel source: ``source`` if given (a ``.tar.xz`` or an unpacked tree), else the
    newest ``/usr/src/linux-source-*.tar.xz``. Raises KernelError naming the apt package."""
    if source is not None:
        p = Path(source)
        if p.is_file() or (p.is_dir() and (p / "Makefile").is_file() and (p / "Kconfig").is_file()):
            return p
        raise KernelError("source", f"{p} is neither a kernel source tarball nor a kernel tree")
    found = sorted(SOURCE_DIR.glob(SOURCE_GLOB), key=lambda p: _version_key(_source_version(p)))
    if not found:
        raise KernelError("source", f"no {SOURCE_DIR}/{SOURCE_GLOB}: install Debian's kernel source "
                          "(apt-get install linux-source-6.12, or the linux-source package of your release)")
    return found[-1]


def _source_version(p: Path) -> str:
    """"6.12" from linux-source-6.12.tar.xz (for a tree: from its Makefile)."""
    if p.is_dir():
        return _tree_version(p) or "unknown"
    m = re.match(r"linux-source-(.+?)\.tar\.xz$", p.name) or re.match(r"linux-(.+?)\.tar\.\w+$", p.name)
    return m.group(1) if m else "unknown"


def _tree_version(tree: Path) -> str | None:
    try:
        text = (tree / "Makefile").read_text(errors="replace")[:2000]
    except OSError:
        return None
    vals = {k: v.strip() for k, v in re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\S*)", text, re.M)}
    if "VERSION" not in vals:
        return None
    return ".".join(vals[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if vals.get(k))


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def _source_identity(p: Path) -> list[str]:
    st = p.stat()
    if p.is_dir():
        return ["tree", str(p.resolve())]
    return ["tarball", p.name, str(st.st_size)]


def kernel_key(arch: Arch, source: Path) -> str:
    """Short hash of what determines the kernel: recipe format, base config, fragment, source."""
    options = [o.line() for o in (*REQUIRED[arch], *build_settings(arch))]  # comments do not count
    h = hashlib.sha256(json.dumps([_CACHE_FORMAT, arch, list(base_recipe(arch)), options,
                                   _source_identity(source)]).encode())
    return h.hexdigest()[:12]


def kernel_path(arch: Arch, cache_dir: Path | None = None, source: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`ensure_kernel` keeps the kernel for these arguments (it may not exist yet)."""
    _check_arch(arch)
    src = find_source(source)
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    return base / f"linux-{_source_version(src)}-{arch}-{kernel_key(arch, src)}"


def load_build(root: Path) -> KernelBuild:
    """The KernelBuild of a complete cache entry."""
    info = json.loads(marker_path(root).read_text())
    opt = lambda name: (root / name) if (root / name).is_file() else None  # noqa: E731
    return KernelBuild(image=root / info["image"], config=root / "config", version=info["version"],
                       arch=info["arch"], fragment_hash=info["hash"], build_seconds=info["build_seconds"],
                       system_map=opt("System.map"), vmlinux=opt("vmlinux"))


def ensure_kernel(arch: Arch, cache_dir: Path | None = None, source: str | os.PathLike[str] | None = None,
                  progress: Progress | None = None, jobs: int | None = None,
                  stall: float = DEFAULT_STALL) -> KernelBuild:
    """Return a complete cached kernel for ``arch``, building it first if needed.

    ``source``: a kernel source ``.tar.xz`` or an unpacked tree (default: the newest
    ``/usr/src/linux-source-*.tar.xz``). ``progress`` receives short lines now and then
    (nothing is printed otherwise). Raises KernelError (with the log tail) on failure.
    """
    _check_arch(arch)
    src = find_source(source)
    root = kernel_path(arch, cache_dir, src)
    if is_complete(root):
        return load_build(root)
    with building(root, on_wait=lambda text: _say(progress, f"kernel: {text}")) as needed:
        if needed:
            _build(root, arch, src, progress, jobs or os.cpu_count() or 1, stall)
    return load_build(root)


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise KernelError("arch", f"unknown arch {arch!r}: expected one of {', '.join(ARCHES)}")


def _say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)


def _check_tools(arch: Arch) -> None:
    a = _ARCH[arch]
    missing = [t for t in (*BUILD_TOOLS, a["gcc"]) if shutil.which(t) is None]
    if missing:
        raise KernelError("tools", f"missing {', '.join(missing)}: apt-get install {APT_PACKAGES} {a['apt']}")


class _Runner:
    """Runs commands with their output appended to the log, counting compile steps. No total
    time limit: a command fails when it made no progress (no output, no CPU time) for
    ``stall`` seconds (devbench.watchdog), however long a loaded machine makes the build."""

    def __init__(self, log: Path, progress: Progress | None, stall: float) -> None:
        self.log = log
        self.progress = progress
        self.stall = stall

    def run(self, cmd: list[str], step: str, cwd: Path | None = None, label: str | None = None) -> None:
        with open(self.log, "a", buffering=1) as out:  # line-buffered: the watchdog sees the log grow
            out.write("$ " + " ".join(cmd) + "\n")
            proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
                                    start_new_session=True)
            assert proc.stdout is not None
            compiled, last = 0, time.monotonic()
            try:
                with Watchdog(proc, self.stall, [self.log]) as dog:
                    for line in proc.stdout:
                        out.write(line)
                        if label and line.startswith(("  CC ", "  AS ")):
                            compiled += 1
                            now = time.monotonic()
                            if now - last >= 5:
                                last = now
                                _say(self.progress, f"{label} (CC {compiled} files)…")
                    rc = proc.wait()
            except BaseException:
                _end_group(proc)
                raise
            if dog.stalled is not None:
                out.write(f"\n(no progress for {dog.stalled:.0f} s: ended by devbench's watchdog)\n")
                raise KernelError(step, f"stalled (no output, no CPU time for {dog.stalled:.0f} s): "
                                        f"{' '.join(cmd)}\n{_tail(self.log)}", str(self.log))
        if rc != 0:
            raise KernelError(step, f"`{' '.join(cmd)}` failed (exit {rc}):\n{_tail(self.log)}", str(self.log))


def _end_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _build(root: Path, arch: Arch, src: Path, progress: Progress | None, jobs: int, stall: float) -> None:
    _check_tools(arch)
    log = root.with_name(root.name + ".log")
    log.write_text(f"# devbench kernel build {root.name} from {src}\n")
    tmp = fresh_tmp(root)
    t0 = time.monotonic()
    run = _Runner(log, progress, stall).run
    try:
        if src.is_dir():
            tree = src
        else:
            _say(progress, f"kernel: unpacking {src.name}")
            (tmp / "src").mkdir()
            run(["tar", "-xf", str(src), "-C", str(tmp / "src"), "--strip-components=1"], "unpack")
            tree = tmp / "src"
        obj = tmp / "build"
        obj.mkdir()
        image, release = _configure_and_make(run, tree, obj, arch, progress, jobs, log)
        out = tmp / "out"
        _copy_outputs(obj, image, out)
        os.rename(out, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    seconds = round(time.monotonic() - t0, 1)
    sizes = {p.name: p.stat().st_size for p in root.iterdir() if p.is_file()}
    info = {"version": release, "arch": arch, "hash": kernel_key(arch, src), "image": image.name,
            "source": str(src), "base": list(base_recipe(arch)), "build_seconds": seconds,
            "jobs": jobs, "sizes": sizes, "built_at": time.time()}
    mark_complete(root, info)
    _say(progress, f"kernel: {arch} {release} built in {seconds:.0f} s: {root / image.name}")


def _make_command(arch: Arch, tree: Path, obj: Path) -> list[str]:
    a = _ARCH[arch]
    make = ["make", "-C", str(tree), f"O={obj}", f"ARCH={a['make_arch']}"]
    if a["cross"]:
        make.append(f"CROSS_COMPILE={a['cross']}")
    return make + ["KBUILD_BUILD_USER=devbench", "KBUILD_BUILD_HOST=devbench"]


def _configure_and_make(run: Callable[..., None], tree: Path, obj: Path, arch: Arch, progress: Progress | None,
                        jobs: int, log: Path) -> tuple[Path, str]:
    """Configure (base recipe + fragment, checked) and build the image in ``obj``: (image, uname -r)."""
    a = _ARCH[arch]
    make = _make_command(arch, tree, obj)
    _say(progress, f"kernel: configuring {arch} ({' + '.join(base_recipe(arch))} + devbench fragment)")
    for target in base_recipe(arch):
        run(make + [target], "config")
    with open(obj / ".config", "a") as cfg:  # later assignments win over allnoconfig's
        cfg.write("\n" + fragment_text(arch))
    run(make + ["olddefconfig"], "config")
    config_text = (obj / ".config").read_text()
    _verify_config(arch, config_text, log)
    _say(progress, f"kernel: building {arch} with {jobs} jobs")
    run(make + [f"-j{jobs}", a["target"]], "build", label=f"kernel: building {arch}")
    image = obj / a["image"]
    if not image.is_file():
        raise KernelError("build", f"make succeeded but {image} is missing\n{_tail(log)}", str(log))
    return image, (obj / "include/config/kernel.release").read_text().strip()


def _copy_outputs(obj: Path, image: Path, out: Path) -> None:
    """The files of a cache entry: the image, config, System.map and vmlinux."""
    out.mkdir()
    shutil.copy2(image, out / image.name)
    shutil.copy2(obj / ".config", out / "config")
    for name in ("System.map", "vmlinux"):  # vmlinux: symbols for perf (no DWARF: DEBUG_INFO_NONE)
        if (obj / name).is_file():
            shutil.copy2(obj / name, out / name)


def _verify_config(arch: Arch, text: str, log: Path) -> None:
    """Fail loudly when olddefconfig dropped an option devbench turned on (a dependency not
    listed: on top of allnoconfig nothing is on unless asked for) or kept modules on."""
    cfg = parse_config(text)
    bad = [f"CONFIG_{o.name}={cfg.get(o.name, 'n')} (wanted y: {o.why}: {o.reason})"
           for o in (*REQUIRED[arch], *build_settings(arch)) if o.value == "y" and cfg.get(o.name, "n") != "y"]
    if cfg.get("MODULES", "n") != "n":
        bad.append("CONFIG_MODULES=y (wanted n)")
    if bad:
        with open(log, "a") as out:
            out.write("\noptions not =y after olddefconfig:\n" + "\n".join(bad) + "\n")
        raise KernelError("config", "after olddefconfig, options devbench turns on are not =y (a dependency "
                          "missing from devbench/kernel/fragment.py?):\n  " + "\n  ".join(bad), str(log))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read log: {e})"
