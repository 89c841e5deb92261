"""Build payloads/forkbench.c for a device's ABI, cache it, push it with a checksum check."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from devbench.config import BuildConfig
from devbench.errors import BuildError, TargetError
from devbench.resources import cache_dir, data_dir
from devbench.targets.base import Target

ZIG_TRIPLES = {
    "aarch64": "aarch64-linux-musl",
    "x86_64": "x86_64-linux-musl",
    "armv7": "arm-linux-musleabihf",
    "riscv64": "riscv64-linux-musl",
}
GCC_PREFIXES = {
    "aarch64": "aarch64-linux-gnu-",
    "x86_64": "x86_64-linux-gnu-",
    "armv7": "arm-linux-gnueabihf-",
    "riscv64": "riscv64-linux-gnu-",
}
NDK_TARGETS = {
    "aarch64": "aarch64-linux-android",
    "x86_64": "x86_64-linux-android",
    "armv7": "armv7a-linux-androideabi",
    "riscv64": "riscv64-linux-android",
}
CFLAGS = ["-static", "-O2", "-std=gnu11", "-Wall"]


@dataclass(frozen=True)
class Payload:
    path: Path  # the built binary on the host
    abi: str
    compiler: str  # a description that identifies the compiler and its version
    sha256: str


def source_path() -> Path:
    return data_dir("payloads") / "forkbench.c"


def cflags(build: BuildConfig) -> list[str]:
    """The flags every compiler gets, with a test build's -D hooks (config-checked names)."""
    return [*CFLAGS, *(f"-D{name}" for name in build.defines)]


def compile_command(build: BuildConfig, abi: str, out: Path, src: Path) -> list[str]:
    """The compiler argument list for one ABI (pure; no compiler is run)."""
    flags = cflags(build)
    if build.compiler == "zig":
        return [sys.executable, "-m", "ziglang", "cc", "-target", ZIG_TRIPLES[abi], *flags, "-o", str(out), str(src)]
    if build.compiler == "ndk":
        clang = Path(os.path.expanduser(build.cc or "")) / "toolchains/llvm/prebuilt/linux-x86_64/bin/clang"
        return [str(clang), f"--target={NDK_TARGETS[abi]}{build.android_api}", *flags, "-o", str(out), str(src)]
    if build.compiler == "cc":
        return [os.path.expanduser(build.cc or "cc"), *flags, "-o", str(out), str(src)]
    # gcc: the cross compiler for the ABI, or this machine's gcc when it is that ABI
    cc = GCC_PREFIXES[abi] + "gcc"
    if shutil.which(cc) is None and _host_abi() == abi and shutil.which("gcc"):
        cc = "gcc"
    return [cc, *flags, "-o", str(out), str(src)]


def _host_abi() -> str:
    return {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "riscv64": "riscv64"}.get(
        os.uname().machine, ""
    )


@cache
def compiler_identity(argv0: str, kind: str) -> str:
    if kind == "zig":
        try:
            return f"zig {metadata.version('ziglang')}"
        except metadata.PackageNotFoundError:
            raise BuildError("-", "zig", "the ziglang package is not installed (pip install ziglang)") from None
    try:
        out = subprocess.run([argv0, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError("-", kind, f"cannot run {argv0}: {exc}") from None
    return (out.stdout.splitlines() or [argv0])[0]


def build(abi: str | None, build_cfg: BuildConfig, *, cache: Path | None = None) -> Payload:
    """Build (or take from the cache) the payload for abi (None: the device's is unknown). Cache
    key: source, target, compiler."""
    if abi is None or abi not in ZIG_TRIPLES:
        raise BuildError(str(abi), build_cfg.compiler, "unsupported ABI")
    src = source_path()
    source = src.read_bytes()
    argv0 = compile_command(build_cfg, abi, Path("out"), src)[0]
    ident = compiler_identity(argv0, build_cfg.compiler)
    parts = [source, abi.encode(), build_cfg.compiler.encode(), ident.encode(), " ".join(cflags(build_cfg)).encode()]
    if build_cfg.compiler == "ndk":
        parts.append(str(build_cfg.android_api).encode())
    key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:20]
    folder = (cache or cache_dir()) / "payloads" / key
    binary = folder / f"forkbench-{abi}"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):  # a second build of the same key (the run's prefetch) waits for it
            if not binary.exists():
                _compile(build_cfg, abi, src, binary, ident)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    if build_cfg.defines:  # results.json records the compiler: a test build says it is one
        ident += " (test build: " + " ".join(f"-D{name}" for name in build_cfg.defines) + ")"
    return Payload(path=binary, abi=abi, compiler=ident, sha256=digest)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The cache entry's lock: a build of the same payload in another thread or process waits
    and then finds the binary (a QEMU target's early build, see targets/qemu.py)."""
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _compile(build_cfg: BuildConfig, abi: str, src: Path, binary: Path, ident: str) -> None:
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        out = Path(tmp) / binary.name
        cmd = compile_command(build_cfg, abi, out, src)
        env = dict(os.environ)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        except FileNotFoundError:
            raise BuildError(abi, ident, f"compiler {cmd[0]} not found") from None
        except subprocess.TimeoutExpired:
            raise BuildError(abi, ident, "the compiler ran for more than 15 minutes") from None
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BuildError(abi, ident, f"compiler failed (exit {proc.returncode}): {last}", proc.stderr)
        os.replace(out, binary)  # atomic: a cached binary is always complete


# Run the payload only if its bytes are still the ones pushed: $1 is the payload, named
# forkbench-<its full sha256>; the rest are its arguments. A mismatch is one line, exit 126.
_VERIFIED = r"""
want=${1##*/forkbench-}
got=$(sha256sum "$1" 2>/dev/null || toybox sha256sum "$1" 2>/dev/null)
got=${got%% *}
if [ "$got" != "$want" ]; then
  echo "devbench: $1 does not match its checksum (sha256 ${got:-unreadable}): not run" >&2
  exit 126
fi
exec "$@"
"""


def verified(remote: str) -> tuple[str, ...]:
    """The argv prefix that checks the payload's checksum where it runs, right before exec."""
    return ("sh", "-c", _VERIFIED, "sh", remote)


def deploy(target: Target, payload: Payload, workdir: str) -> str:
    """Push the payload into workdir (skipped when already there) and verify its checksum;
    it is checked again each time it runs (verified())."""
    remote = f"{workdir.rstrip('/')}/forkbench-{payload.sha256}"
    mk = target.run(["mkdir", "-p", workdir], timeout=60)
    if not mk.ok:
        raise TargetError(target.name, "push payload", f"cannot create {workdir}: {mk.last_words()}")
    if _remote_sha256(target, remote) == payload.sha256:
        return remote
    target.push(payload.path, remote, 0o755)
    got = _remote_sha256(target, remote)
    if got != payload.sha256:
        raise TargetError(
            target.name,
            "push payload",
            f"checksum mismatch after push to {remote}: {got or 'unreadable'} != {payload.sha256}",
        )
    return remote


def _remote_sha256(target: Target, remote: str) -> str | None:
    res = target.run(["sha256sum", remote], timeout=120)
    if res.ok and res.stdout.split():
        return res.stdout.split()[0]
    if res.exit_code == 127 or "not found" in res.stderr:
        res = target.run(["toybox", "sha256sum", remote], timeout=120)
        if res.ok and res.stdout.split():
            return res.stdout.split()[0]
    return None
