"""A clean Debian 12 root file system, cached, to run the project's set-up in "from nothing".

Layers (overlayfs; each cached under ``devbench.cache.cache_root("fresh")`` with the project's
cache machinery: built once under a lock, in a ``.tmp-*`` folder, marked complete last):

- the base: ``mmdebstrap --variant=apt`` of the host's suite (bookworm) from the host's own
  Debian apt sources (main archive, -updates, -security; never a hard-coded host): Essential
  packages and apt, nothing of the project's;
- the apt layer: the base after ``scripts/dev apt`` (the project's own apt step with its
  package lists), keyed by those lists: a change of the lists gives a new layer, built from
  the base again;
- each run: a throw-away upper layer over both, the project's files (git ls-files, the work
  tree's content) at /root/devbench, the host's /var/cache/apt/archives bind-mounted (debs
  are downloaded once per machine) and a pip cache of the fresh root's own; on request host
  folders at their own paths, each the read-only lower of an overlay of the run's (the host's
  devbench caches for tests/fresh/test_fresh_lava.py: images reused, never changed).

Commands run through ``_enter.py``: a new mount and PID namespace, pivot_root into the overlay.
Every process a run starts ends with it (its PID namespace dies) and every mount goes with its
namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devbench.cache import building, cache_root, fresh_tmp, is_complete, mark_complete
from devbench.guest.mirror import SourceEntry, debian_main, parse_deb822, parse_one_line

REPO = Path(__file__).resolve().parents[2]
ENTER = Path(__file__).with_name("_enter.py")
PROJECT_IN_ROOT = "/root/devbench"  # a clone in a folder named devbench, as a user has it
_FORMAT = "1"  # bump when how a layer is made changes
# This machine's own CAs (a TLS-inspecting egress proxy's, say): part of the machine, like its
# resolv.conf, so the fresh root gets them (ca-certificates' postinst adds them to its bundle).
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
# The machine's environment that a process on it has (CI keeps it): where the CA bundle is, pip's
# settings. Passed on into the fresh root as they are.
PASS_ENV = ("PIP_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "SSL_CERT_FILE",
            "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class FreshRootError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# pure helpers


def _is_debian_uri(uri: str) -> bool:
    if not uri.startswith(("http://", "https://")):
        return False
    parts = uri.rstrip("/").split("://", 1)[1].split("/")[1:]
    return "debian" in parts or "debian-security" in parts


def debian_sources(entries: Iterable[SourceEntry]) -> list[str]:
    """One-line ``deb`` sources (for mmdebstrap) of the Debian archives among ``entries``:
    the main archive and its -updates and -security suites, ``main`` component only; third-party
    repositories (another keyring, no ``main``, not a .../debian archive) are left out."""
    out: list[str] = []
    for e in entries:
        if not _is_debian_uri(e.uri) or not debian_main(e):
            continue
        for suite in e.suites:
            line = f"deb {e.uri.rstrip('/')} {suite} main"
            if line not in out:
                out.append(line)
    return out


def host_sources(apt_dir: Path = Path("/etc/apt")) -> list[str]:
    """:func:`debian_sources` of this machine's apt sources (sources.list, sources.list.d)."""
    entries: list[SourceEntry] = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        entries += parse_one_line(main_list.read_text(errors="replace"))
    d = apt_dir / "sources.list.d"
    if d.is_dir():
        for p in sorted(d.glob("*.list")):
            entries += parse_one_line(p.read_text(errors="replace"))
        for p in sorted(d.glob("*.sources")):
            entries += parse_deb822(p.read_text(errors="replace"))
    out = debian_sources(entries)
    if not out:
        raise FreshRootError(f"no Debian archive in {apt_dir}'s apt sources")
    return out


_ARRAY = re.compile(r"^([A-Z_]*PACKAGES)=\((.*?)\)", re.M | re.S)


def drop_package(script: str, package: str) -> str:
    """scripts/dev's text with ``package`` taken out of every ``*_PACKAGES=(...)`` list.
    Raises ValueError if no list names it."""
    word = re.compile(r"(?<![\w.+-])" + re.escape(package) + r"(?![\w.+-])[ \t]?")
    found = False

    def one(m: re.Match[str]) -> str:
        nonlocal found
        body, n = word.subn("", m.group(2))
        found = found or n > 0
        return f"{m.group(1)}=({body})"

    text = _ARRAY.sub(one, script)
    if not found:
        raise ValueError(f"no package list in the script names {package!r}")
    return text


def layer_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([_FORMAT, *parts]).encode()).hexdigest()[:12]


def project_files(repo: Path = REPO) -> list[str]:
    """The project's files as git sees them (tracked and new, not ignored) that exist."""
    cp = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                        capture_output=True, text=True, timeout=60, check=True)
    return [f for f in cp.stdout.split("\0") if f and (repo / f).is_file()]


# ---------------------------------------------------------------------------------------------
# the layers


def host_suite() -> str:
    """The host's Debian codename (bookworm on Debian 12)."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise FreshRootError("no VERSION_CODENAME in /etc/os-release")


def copy_project(dest: Path, repo: Path = REPO) -> Path:
    """Copy the project's files (work tree content) into ``dest``; returns ``dest``."""
    for f in project_files(repo):
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / f, target)
    return dest


def packages_of(project: Path) -> list[str]:
    """What the project copy's ``scripts/dev packages`` prints."""
    cp = subprocess.run(["bash", str(project / "scripts/dev"), "packages"], capture_output=True, text=True,
                        timeout=60, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise FreshRootError(f"scripts/dev packages failed: {cp.stderr.strip()}")
    return cp.stdout.split()


def ensure_base(suite: str | None = None, sources: Sequence[str] | None = None, timeout: float = 900) -> Path:
    """The cached base root: mmdebstrap --variant=apt of ``suite`` from ``sources``."""
    suite = suite or host_suite()
    sources = list(sources or host_sources())
    entry = cache_root("fresh") / f"base-{suite}-{layer_key(suite, sources)}"
    if is_complete(entry):
        return entry
    with building(entry) as needed:
        if needed:
            if shutil.which("mmdebstrap") is None:
                raise FreshRootError("mmdebstrap is not installed (scripts/dev apt)")
            tmp = fresh_tmp(entry)
            t0 = time.monotonic()
            try:
                os.chmod(tmp, 0o755)
                log = entry.with_name(entry.name + ".log")
                rc = _run_logged(["mmdebstrap", "--variant=apt", suite, str(tmp), *sources], log, timeout)
                if rc != 0:
                    raise FreshRootError(f"mmdebstrap failed (exit {rc}); log {log}:\n{_tail(log)}")
                os.rename(tmp, entry)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            mark_complete(entry, {"suite": suite, "sources": sources,
                                  "build_seconds": round(time.monotonic() - t0, 1), "built_at": time.time()})
    return entry


def ensure_apt_layer(base: Path, project: Path, timeout: float = 1500) -> Path:
    """The cached layer that the project's own apt step (``scripts/dev apt``) leaves on ``base``,
    keyed by the package lists of ``project`` (a copy of the project)."""
    packages = packages_of(project)
    entry = cache_root("fresh") / f"apt-{layer_key(base.name, sorted(set(packages)), _local_cas())}"
    if is_complete(entry):
        return entry
    with building(entry) as needed:
        if needed:
            tmp = fresh_tmp(entry)
            t0 = time.monotonic()
            log = entry.with_name(entry.name + ".log")
            try:
                rc = run_in_root([base], tmp, project, ["bash", f"{PROJECT_IN_ROOT}/scripts/dev", "apt"], log, timeout)
                if rc != 0:
                    raise FreshRootError(
                        f"scripts/dev apt failed in the fresh root (exit {rc}); log {log}:\n{_tail(log)}"
                    )
                shutil.rmtree(tmp / "work", ignore_errors=True)
                shutil.rmtree(tmp / "mnt", ignore_errors=True)
                _clear(tmp / "upper" / str(LOCAL_CAS).lstrip("/"))
                _clear(tmp / "upper" / PROJECT_IN_ROOT.lstrip("/"))
                os.rename(tmp, entry)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            mark_complete(entry, {"base": base.name, "packages": packages,
                                  "build_seconds": round(time.monotonic() - t0, 1), "built_at": time.time()})
    return entry


def _local_cas() -> list[str]:
    """The machine's own CA files (name and content hash): a change gives a new apt layer."""
    if not LOCAL_CAS.is_dir():
        return []
    return [f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()[:12]}"
            for p in sorted(LOCAL_CAS.rglob("*.crt")) if p.is_file()]


def _clear(d: Path) -> None:
    """Empty a mount point left in an upper layer (keep the folder)."""
    if d.is_dir():
        for p in d.iterdir():
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def layers_of(entry: Path) -> Path:
    """The overlay lower directory an apt-layer entry contributes."""
    return entry / "upper"


def run_in_root(lowers: Sequence[Path], scratch: Path, project: Path, cmd: Sequence[str], log: Path,
                timeout: float, env: dict[str, str] | None = None, in_memory: bool = False,
                download_caches: bool = True, host_folders: Sequence[Path] = ()) -> int:
    """Run ``cmd`` as root in a throw-away overlay over ``lowers`` (first = top), the upper
    layer in ``scratch/upper``; ``project`` at /root/devbench; output to ``log``. Exit code,
    124 on timeout (everything it started is ended either way).

    ``in_memory``: the upper layer and a copy of ``project`` (with the venv the run makes in
    it) live on a tmpfs of the run's own, gone when it ends (deleting a venv from disk took
    longer than the run).

    ``download_caches``: the host's apt archives and the fresh roots' pip cache are bound in
    (no .deb or wheel downloaded twice); without them every download is a real one.

    ``host_folders``: each is seen at its own path inside the root, read-only in effect (the
    lower layer of an overlay whose writes go to the run's scratch): e.g. the host's devbench
    caches, so that a run reuses the images the host built and cannot change them."""
    upper, work, mnt = scratch / "upper", scratch / "work", scratch / "mnt"
    scratch.mkdir(parents=True, exist_ok=True)
    if not in_memory:
        for d in (upper, work, mnt):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(upper, 0o755)
    pip_cache = cache_root("fresh") / "pip-cache"
    pip_cache.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(ENTER), "--lower", ":".join(str(p) for p in lowers), "--upper", str(upper),
            "--work", str(work), "--mount", str(mnt),
            *(["--tmpfs", str(scratch), "--copy"] if in_memory else ["--bind"]), f"{project}:{PROJECT_IN_ROOT}",
            *(["--bind", "/var/cache/apt/archives:/var/cache/apt/archives",
               "--bind", f"{pip_cache}:/root/.cache/pip"] if download_caches else []),
            "--cwd", PROJECT_IN_ROOT]
    if LOCAL_CAS.is_dir():
        argv += ["--bind", f"{LOCAL_CAS}:{LOCAL_CAS}"]
    for d in host_folders:
        argv += ["--overlay", f"{d}:{d}"]
    passed = {k: os.environ[k] for k in PASS_ENV if os.environ.get(k)}
    for k, v in {**passed, **(env or {})}.items():
        argv += ["--env", f"{k}={v}"]
    return _run_logged([*argv, "--", *cmd], log, timeout)


def _run_logged(cmd: Sequence[str], log: Path, timeout: float) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            out.write(f"\n(timed out after {timeout:.0f} s)\n")
            return 124
        finally:
            if proc.poll() is None:  # _enter.py passes SIGTERM on as SIGKILL to its PID 1
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read log: {e})"


@dataclass
class FreshRun:
    """One run of a command in a fresh root: its exit code and output."""

    rc: int
    output: str
    seconds: float


def run_setup(cmd: Sequence[str], drop: Sequence[str] = (), timeout: float = 1200,
              workdir: Path | None = None, edit: Callable[[Path], None] | None = None,
              env: dict[str, str] | None = None, host_folders: Sequence[Path] = ()) -> FreshRun:
    """Copy the project (``drop``: packages taken out of the copy's scripts/dev lists; ``edit``:
    called with the copy's folder, to change the copy), make or reuse the base and apt layers,
    and run ``cmd`` (e.g. scripts/dev check-tools) in a fresh overlay (``env`` and
    ``host_folders`` as :func:`run_in_root` has them). The scratch folder is removed afterwards."""
    t0 = time.monotonic()
    runs = workdir or cache_root("fresh") / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
    try:
        project = copy_project(scratch / "devbench")
        if drop:
            script = project / "scripts/dev"
            text = script.read_text()
            for p in drop:
                text = drop_package(text, p)
            script.write_text(text)
        if edit is not None:
            edit(project)
        base = ensure_base()
        apt = ensure_apt_layer(base, project)
        log = scratch / "run.log"
        rc = run_in_root([layers_of(apt), base], scratch / "root", project, cmd, log, timeout, env=env,
                         in_memory=True, host_folders=host_folders)
        return FreshRun(rc, log.read_text(errors="replace"), time.monotonic() - t0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
