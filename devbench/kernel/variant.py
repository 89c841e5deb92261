"""Kernel variants: devbench's feature kernel plus patches, built incrementally and cached by content.

A variant is the feature kernel (Debian's linux-source + devbench's fragment, see build.py)
with patches applied, in order: files shipped with devbench (``devbench/kernel/patches/``,
named by file name) or the user's own (``git diff`` / ``diff -u`` format, ``patch -p1``).

Layout under the kernel cache (beside the base entries of build.py)::

    linux-6.12-x86_64-<key>-tree/           the base build's tree, kept: src/ (unpacked source)
                                            with the object dir inside it, src/devbench-obj/
    linux-6.12-x86_64-<key>-tree.complete   JSON: build seconds, disk bytes (written last)
    linux-6.12-x86_64-<key>-p<patches>/     a variant: bzImage (arm64: Image), config, System.map, vmlinux
    linux-6.12-x86_64-<key>-p<patches>.complete  JSON: the base's info, plus the variant's patches
                                            (name, sha256), build seconds and files compiled

``<key>`` is the base kernel's key (build.kernel_key: source, fragment, recipe); ``<patches>``
hashes the patches' bytes, in order (a patch's name or path does not count).

The kept tree is built on the first variant request (a full build: the base image entry of
the quick start stays as it is, and costs no extra disk). Its object dir is a direct
subdirectory of the source, so kbuild names sources relatively (``srctree := ..``) and a copy
of both elsewhere builds as the original did. A variant is built in a copy: the source
hardlinked (``cp -al``; the links of the files a patch touches are broken before ``patch``
runs, and GNU patch writes a new file anyway), the object dir really copied (``cp -a
--reflink=auto``: make writes into it), timestamps kept, so make recompiles only what the
patches changed (and relinks). The kept tree is never written to.

A patch that does not apply, or a variant build that fails, raises :class:`KernelVariantError`:
one line naming the variant, the patch and the first error.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devbench.cache import building, fresh_tmp, is_complete, mark_complete, marker_path
from devbench.watchdog import DEFAULT_STALL

from .build import (
    _ARCH,
    KernelBuild,
    Progress,
    _check_arch,
    _check_tools,
    _configure_and_make,
    _copy_outputs,
    _make_command,
    _Runner,
    _say,
    find_source,
    kernel_key,
    kernel_path,
    load_build,
)
from .errors import KernelError
from .fragment import Arch, base_recipe

if TYPE_CHECKING:
    from devbench.config.yamlsrc import Section

PATCHES_DIR = Path(__file__).resolve().parent / "patches"
OBJ_DIR = "devbench-obj"  # the object dir's name inside the kept source tree
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z")
RESERVED_NAMES = ("feature", "stock")
MAX_PATCH_BYTES = 16 << 20


class KernelVariantError(KernelError):
    """A variant's patch does not apply, or its build fails: one line, with its data.

    ``variant``: the variant's name; ``patch``: the patch's name as the user wrote it (None
    when the build fails and no single patch can be blamed); ``what``: "does not apply" or
    "build failed"; ``first_error``: the first error line of patch or of the compiler;
    ``file``: the source file it is about, when known; ``log``: the full log.
    """

    def __init__(self, variant: str, patch: str | None, what: str, first_error: str, file: str | None = None,
                 log: str | None = None) -> None:
        self.variant = variant
        self.patch = patch
        self.what = what
        self.first_error = first_error
        self.file = file
        subject = f"{patch} {what}" if patch else what
        super().__init__(f"variant {variant}", f"{subject}: {first_error}", log)

    def __str__(self) -> str:
        where = f" (log {self.log})" if self.log else ""
        return f"kernel {self.step}: {self.detail}{where}"


@dataclass(frozen=True)
class KernelPatch:
    """One patch of a variant: ``ref`` as written (a shipped name or a path), ``path`` resolved."""

    ref: str
    path: Path
    shipped: bool

    def data(self) -> bytes:
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(MAX_PATCH_BYTES + 1)
        except OSError as exc:
            raise KernelError("patch", f"{self.ref}: cannot read {self.path}: {exc.strerror or exc}") from None
        if len(data) > MAX_PATCH_BYTES:
            raise KernelError("patch", f"{self.ref}: larger than {MAX_PATCH_BYTES >> 20} MiB: not a patch")
        return data

    def sha256(self) -> str:
        return hashlib.sha256(self.data()).hexdigest()


@dataclass(frozen=True)
class KernelVariant:
    """The feature kernel plus ``patches``, applied in order; ``name`` labels it (e.g. "strdup")."""

    name: str
    patches: tuple[KernelPatch, ...]

    def describe(self) -> str:
        return f"{self.name} (feature kernel + {', '.join(p.ref for p in self.patches)})"


# ---- patches: shipped or the user's


def shipped_patches() -> list[str]:
    """The names of the patches devbench ships (``devbench/kernel/patches/*.patch``)."""
    return sorted(p.name for p in PATCHES_DIR.glob("*.patch") if p.is_file())


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False


def _is_path(ref: str) -> bool:
    return "/" in ref or ref.startswith(("~", "."))


def find_patch(ref: str, base_dir: Path | None = None) -> KernelPatch:
    """A patch by its reference: a bare file name is a shipped patch; anything with a ``/``
    (``./my.patch``, ``patches/x.diff``, ``~/y.patch``, an absolute path) is the user's own,
    relative to ``base_dir`` (the config's folder; default: the working folder).
    Raises ValueError with a one-line message (and a suggestion when a name is close)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(
            f"must be a patch: a shipped name ({', '.join(shipped_patches()) or 'none'}) or a path such as ./my.patch"
        )
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if not _is_path(ref):
        shipped = PATCHES_DIR / ref
        if ref in shipped_patches() and _is_file(shipped):
            return KernelPatch(ref, shipped, True)
        known = shipped_patches()
        close = difflib.get_close_matches(ref, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        local = base / ref
        if _is_file(local):
            hint += f"; for the file beside the config write ./{ref}"
        raise ValueError(f"no patch named {ref!r} ships with devbench (shipped: {', '.join(known) or 'none'}){hint}")
    path = Path(os.path.expanduser(ref))
    if not path.is_absolute():
        path = base / path
    path = Path(os.path.normpath(path))
    if not _is_file(path):
        where = f" (relative to {base})" if not Path(os.path.expanduser(ref)).is_absolute() else ""
        raise ValueError(f"patch file {path} does not exist{where}")
    return KernelPatch(ref, path, False)


def default_name(patches: tuple[KernelPatch, ...]) -> str:
    """A variant's name when the config gives none: its patches' file names without suffix."""
    stems = [re.sub(r"\.(patch|diff)$", "", Path(p.ref).name) for p in patches]
    name = re.sub(r"[^A-Za-z0-9._-]", "-", "+".join(stems).replace("+", "_"))[:40].strip("._-") or "variant"
    return name if NAME_RE.match(name) and name not in RESERVED_NAMES else "variant"


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            f"must be a short name of letters, digits, '.', '_', '-' (max 40), such as strdup (got {value!r})"
        )
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} names a built-in kernel: choose another name for a patched one (such as strdup)")
    return value


def make_variant(refs: list[str], name: str | None = None, base_dir: Path | None = None) -> KernelVariant:
    """A variant from patch references (raises ValueError, as find_patch and check_name)."""
    if not refs:
        raise ValueError("a kernel variant needs at least one patch")
    patches = tuple(find_patch(r, base_dir) for r in refs)
    _no_repeats(patches)
    return KernelVariant(check_name(name) if name is not None else default_name(patches), patches)


def _no_repeats(patches: tuple[KernelPatch, ...]) -> None:
    seen: dict[Path, str] = {}
    for p in patches:
        if p.path in seen:
            raise ValueError(f"{p.ref} is listed twice (the same file as {seen[p.path]})")
        seen[p.path] = p.ref


# ---- the config's `kernel:` option of a QEMU target


KERNEL_MAPPING_HELP = ("kernel: takes feature, stock, a kernel image path, or a patched feature kernel: "
                       "{patches: [anon-name-strdup.patch, ./my.patch], name: strdup}")


def parse_kernel_option(sec: Section, key: str = "kernel") -> tuple[str, KernelVariant | None]:
    """``kernel:`` of a qemu target: ``("feature" | "stock" | PATH, None)``, or for a mapping
    ``{patches: [...], name: NAME, base: feature}`` ``("feature", KernelVariant)``.

    Errors are ConfigErrors at the offending field (file:line:column), with a suggestion.
    User patches are found relative to the config file's folder."""
    raw = sec.raw(key, "feature")
    if not isinstance(raw, dict):
        if isinstance(raw, list):
            raise sec.error(key, "must be a string or a mapping, not a list: " + KERNEL_MAPPING_HELP)
        return sec.string(key, "feature"), None
    ks = sec.section(key)
    assert ks is not None
    ks.string("base", "feature", choices=("feature",))  # patches apply to devbench's feature kernel
    refs = ks.raw("patches")
    if not isinstance(refs, list) or not refs:
        raise ks.error(
            "patches",
            "must be a non-empty list of patches: shipped names "
            f"({', '.join(shipped_patches()) or 'none'}) or paths relative to the config (./my.patch)",
        )
    src_file = Path(sec.src.file)
    base_dir = src_file.parent if src_file.is_file() else Path.cwd()
    patches: list[KernelPatch] = []
    for j, ref in enumerate(refs):
        try:
            if not isinstance(ref, str):
                raise ValueError(f"must be a patch name or path (a string), not {type(ref).__name__}")
            patches.append(find_patch(ref, base_dir))
            _no_repeats(tuple(patches))
        except ValueError as exc:
            raise ks.src.error(ks.path + ("patches", j), str(exc)) from None
    name = ks.value("name", check_name, None)
    ks.done()
    return "feature", KernelVariant(name or default_name(tuple(patches)), tuple(patches))


# ---- the cache


def tree_path(arch: Arch, cache_dir: Path | None = None, source: str | os.PathLike[str] | None = None) -> Path:
    """Where the base build's kept tree lives (it may not exist yet)."""
    base = kernel_path(arch, cache_dir, source)
    return base.with_name(base.name + "-tree")


def patches_key(patches: tuple[KernelPatch, ...]) -> str:
    """Short hash of the patches' bytes, in order (names and paths do not count)."""
    return hashlib.sha256(json.dumps([p.sha256() for p in patches]).encode()).hexdigest()[:12]


def variant_path(arch: Arch, variant: KernelVariant, cache_dir: Path | None = None,
                 source: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`ensure_variant` keeps this variant (it may not exist yet)."""
    base = kernel_path(arch, cache_dir, source)
    return base.with_name(f"{base.name}-p{patches_key(variant.patches)}")


def ensure_tree(arch: Arch, cache_dir: Path | None = None, source: str | os.PathLike[str] | None = None,
                progress: Progress | None = None, jobs: int | None = None, stall: float = DEFAULT_STALL) -> Path:
    """The base build's kept tree (``-tree`` entry), built in place first if needed (a full
    build). Where the base image entry is missing, it is filled from the same build."""
    _check_arch(arch)
    src = find_source(source)
    root = tree_path(arch, cache_dir, src)
    if not is_complete(root):
        with building(root, on_wait=lambda text: _say(progress, f"kernel: {text}")) as needed:
            if needed:
                _build_tree(root, arch, src, progress, jobs or os.cpu_count() or 1, stall)
    image_root = kernel_path(arch, cache_dir, src)
    if not is_complete(image_root):
        _fill_base_entry(image_root, root, arch, src)
    return root


def _build_tree(root: Path, arch: Arch, src: Path, progress: Progress | None, jobs: int, stall: float) -> None:
    """A full build at the tree's final place: kbuild's host tools (objtool) record absolute
    paths, which must stay valid for the variants built from copies of it."""
    _check_tools(arch)
    log = root.with_name(root.name + ".log")
    log.write_text(f"# devbench kernel tree {root.name} from {src} (kept for variants)\n")
    if root.exists():  # no marker: an interrupted build
        shutil.rmtree(root)
    tree = root / "src"
    tree.mkdir(parents=True)
    t0 = time.monotonic()
    run = _Runner(log, progress, stall).run
    try:
        if src.is_dir():
            _say(progress, f"kernel: copying {src}")
            run(["cp", "-a", "--reflink=auto", f"{src}/.", str(tree)], "unpack")
        else:
            _say(progress, f"kernel: unpacking {src.name} (kept for kernel variants)")
            run(["tar", "-xf", str(src), "-C", str(tree), "--strip-components=1"], "unpack")
        obj = tree / OBJ_DIR
        obj.mkdir()
        image, release = _configure_and_make(run, tree, obj, arch, progress, jobs, log)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    seconds = round(time.monotonic() - t0, 1)
    size = disk_bytes(root)
    info = {"version": release, "arch": arch, "hash": kernel_key(arch, src), "image": str(image.relative_to(root)),
            "source": str(src), "base": list(base_recipe(arch)), "build_seconds": seconds, "jobs": jobs,
            "disk_bytes": size, "built_at": time.time()}
    mark_complete(root, info)
    _say(progress, f"kernel: {arch} tree for variants built in {seconds:.0f} s ({size / 2**30:.2f} GiB): {root}")


def _fill_base_entry(image_root: Path, tree_root: Path, arch: Arch, src: Path) -> None:
    info = json.loads(marker_path(tree_root).read_text())
    with building(image_root) as needed:
        if not needed:
            return
        tmp = fresh_tmp(image_root)
        try:
            obj = tree_root / "src" / OBJ_DIR
            _copy_outputs(obj, obj / _ARCH[arch]["image"], tmp / "out")
            os.rename(tmp / "out", image_root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        sizes = {p.name: p.stat().st_size for p in image_root.iterdir() if p.is_file()}
        mark_complete(image_root, {**{k: v for k, v in info.items() if k != "disk_bytes"},
                                   "image": Path(_ARCH[arch]["image"]).name, "sizes": sizes,
                                   "from_tree": tree_root.name})


def disk_bytes(root: Path) -> int:
    """Bytes the files under ``root`` take on disk (hardlinked files counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def ensure_variant(arch: Arch, variant: KernelVariant, cache_dir: Path | None = None,
                   source: str | os.PathLike[str] | None = None, progress: Progress | None = None,
                   jobs: int | None = None, stall: float = DEFAULT_STALL) -> KernelBuild:
    """A complete cached variant kernel, built first if needed (from the kept tree, which is
    built first if needed). Raises KernelVariantError (one line) when a patch does not apply
    or the build fails, KernelError for anything else."""
    _check_arch(arch)
    src = find_source(source)
    for p in variant.patches:
        p.data()  # unreadable: said before anything is built
    root = variant_path(arch, variant, cache_dir, src)
    if is_complete(root):
        return load_build(root)
    tree = ensure_tree(arch, cache_dir, src, progress, jobs, stall)
    with building(root, on_wait=lambda text: _say(progress, f"kernel: {text}")) as needed:
        if needed:
            _build_variant(root, tree, arch, variant, src, progress, jobs or os.cpu_count() or 1, stall)
    return load_build(root)


def touched_files(patch: bytes) -> list[str]:
    """The files a ``-p1`` patch names (old and new sides, without /dev/null), in order."""
    out: list[str] = []
    for line in patch.decode("utf-8", "replace").splitlines():
        m = re.match(r"^(?:---|\+\+\+) (\S+)", line)
        if not m or m.group(1) == "/dev/null":
            continue
        parts = m.group(1).split("/", 1)
        if len(parts) == 2 and parts[1] not in out:
            out.append(parts[1])
    return out


def break_links(tree: Path, files: list[str]) -> None:
    """Give each existing file of ``tree`` among ``files`` an inode of its own (a copy with
    the same bytes, mode and times), so writing it cannot change the kept tree it links to."""
    root = tree.resolve()
    for rel in files:
        p = (tree / rel)
        try:
            resolved = p.resolve()
        except OSError:
            continue
        if root not in resolved.parents or not p.is_file() or p.is_symlink():
            continue
        if p.stat().st_nlink > 1:
            tmp = p.with_name(p.name + ".devbench-unlink")
            shutil.copy2(p, tmp)
            os.replace(tmp, p)


_PATCH_FILE = re.compile(r"^(?:checking|patching) file (?:'(.+)'|(.+))$")


def first_patch_error(output: str) -> tuple[str, str | None]:
    """(the first error of GNU patch's output, the file it is about)."""
    current: str | None = None
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = _PATCH_FILE.match(line)
        if m:
            current = m.group(1) or m.group(2)
            continue
        m = re.match(r"^(Hunk #\d+ FAILED at \d+)", line)
        if m:
            return (f"{m.group(1)} ({current})" if current else m.group(1)), current
        if line.startswith("can't find file to patch"):
            name = next((x.split()[1] for x in lines[i + 1:i + 12] if x.startswith(("|+++ ", "|--- "))
                         and len(x.split()) > 1 and x.split()[1] != "/dev/null"), None)
            if name and "/" in name:
                name = name.split("/", 1)[1]
            return (f"no file {name} in the source" if name else "can't find file to patch"), name
        if line.startswith("Reversed (or previously applied) patch detected"):
            return (f"reversed or already applied ({current})" if current else "reversed or already applied"), current
        if line.startswith("patch: **** "):
            text = line[len("patch: **** "):].strip()
            if text.startswith("Only garbage"):
                text = "not a patch (no diff in it)"
            return text, current
    for line in lines:
        if "FAILED" in line or "error" in line.lower():
            return line.strip(), current
    rest = [ln.strip() for ln in lines if ln.strip() and not _PATCH_FILE.match(ln)]
    return (rest[0] if rest else "patch failed"), current


def apply_patches(tree: Path, variant: KernelVariant, log: Path | None = None) -> None:
    """Apply the variant's patches to ``tree`` in order (``patch -p1``, checked with
    ``--dry-run`` first, so a failing patch leaves the tree as the patches before it left it)."""
    for p in variant.patches:
        data = p.data()
        base = ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-d", str(tree), "-i", str(p.path)]
        for dry in (True, False):
            if not dry:
                break_links(tree, touched_files(data))
            res = subprocess.run([*base, *(["--dry-run"] if dry else [])], stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, errors="replace", timeout=300)
            output = res.stdout + res.stderr
            if log is not None:
                with open(log, "a") as out:
                    out.write(f"$ {' '.join(base)}{' --dry-run' if dry else ''}\n{output}")
            if res.returncode != 0:
                first, file = first_patch_error(output)
                raise KernelVariantError(variant.name, p.ref, "does not apply", first, file,
                                         str(log) if log is not None else None)


_BUILD_ERROR = re.compile(r"(?:^|\s)(?:fatal )?error:|undefined reference to|\*\*\* No rule to make target")


def first_build_error(text: str) -> tuple[str, str | None]:
    """(the first error line of a failed make, the source file it names)."""
    for line in text.splitlines():
        if _BUILD_ERROR.search(line) and not line.startswith("$ "):
            clean = re.sub(r"(^|\s)(\.\./)+", r"\1", line.strip())  # kbuild names sources as ../kernel/fork.c
            m = re.match(r"^([\w./+-]+\.[chS]):\d+", clean)
            return clean, (m.group(1) if m else None)
    for line in text.splitlines():
        if line.startswith("make") and "***" in line:
            return line.strip(), None
    return "make failed (no error line in its output)", None


def _build_variant(root: Path, tree_root: Path, arch: Arch, variant: KernelVariant, src: Path,
                   progress: Progress | None, jobs: int, stall: float) -> None:
    _check_tools(arch)
    if shutil.which("patch") is None:
        raise KernelError("tools", "missing patch (GNU patch applies a variant's patches): apt-get install patch")
    log = root.with_name(root.name + ".log")
    log.write_text(f"# devbench kernel variant {variant.describe()} of {tree_root.name}\n")
    tmp = fresh_tmp(root)
    base_src = tree_root / "src"
    t0 = time.monotonic()
    run = _Runner(log, progress, stall).run
    try:
        _say(progress, f"kernel variant {variant.name}: copying the kept {arch} tree")
        tree = tmp / "src"
        tree.mkdir()
        entries = [str(base_src / n) for n in sorted(os.listdir(base_src)) if n != OBJ_DIR]
        run(["cp", "-al", *entries, str(tree)], "copy")  # hardlinks: the kept tree is never written
        run(["cp", "-a", "--reflink=auto", str(base_src / OBJ_DIR), str(tree / OBJ_DIR)], "copy")
        copied = time.monotonic()
        _say(progress, f"kernel variant {variant.name}: applying {', '.join(p.ref for p in variant.patches)}")
        apply_patches(tree, variant, log)
        obj = tree / OBJ_DIR
        _say(progress, f"kernel variant {variant.name}: building {arch} (only what the patches touch)")
        start = log.stat().st_size
        try:
            run([*_make_command(arch, tree, obj), f"-j{jobs}", _ARCH[arch]["target"]], "build",
                label=f"kernel variant {variant.name}: building {arch}")
        except KernelError as exc:
            with open(log, errors="replace") as fh:
                fh.seek(start)
                output = fh.read()
            if "stalled" in exc.detail:
                raise
            first, file = first_build_error(output)
            blame = _blame(variant, file)
            raise KernelVariantError(variant.name, blame, "build failed", first, file, str(log)) from None
        made = time.monotonic()
        image = obj / _ARCH[arch]["image"]
        if not image.is_file():
            raise KernelVariantError(variant.name, None, "build failed", f"make succeeded but {image} is missing",
                                     None, str(log))
        release = (obj / "include/config/kernel.release").read_text().strip()
        with open(log, errors="replace") as fh:
            fh.seek(start)
            compiled = sorted({_relative(ln.split()[1], obj) for ln in fh
                               if ln.startswith(("  CC ", "  AS ")) and len(ln.split()) > 1})
        _copy_outputs(obj, image, tmp / "out")
        os.rename(tmp / "out", root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    seconds = round(time.monotonic() - t0, 1)
    base_info = json.loads(marker_path(tree_root).read_text())
    sizes = {p.name: p.stat().st_size for p in root.iterdir() if p.is_file()}
    info = {"version": release, "arch": arch, "hash": kernel_key(arch, src), "image": image.name,
            "source": str(src), "base": list(base_recipe(arch)), "build_seconds": seconds, "jobs": jobs,
            "sizes": sizes, "built_at": time.time(),
            "variant": {"name": variant.name, "key": patches_key(variant.patches),
                        "patches": [{"ref": p.ref, "file": p.path.name, "shipped": p.shipped, "sha256": p.sha256()}
                                    for p in variant.patches],
                        "tree": tree_root.name, "tree_build_seconds": base_info.get("build_seconds"),
                        "copy_seconds": round(copied - t0, 1), "make_seconds": round(made - copied, 1),
                        "compiled": compiled}}
    mark_complete(root, info)
    _say(progress, f"kernel variant {variant.name}: {arch} {release} built in {seconds:.0f} s "
                   f"({len(compiled)} files compiled): {root / image.name}")


def _relative(name: str, obj: Path) -> str:
    """A compiled file as kbuild names it, relative to the object dir (the host tools' build
    names its objects by absolute path)."""
    prefix = str(obj) + "/"
    return name[len(prefix):] if name.startswith(prefix) else name


def kernel_objects(compiled: list[str]) -> list[str]:
    """The compiled files that are kernel code, without what every build remakes: the host
    tools (objtool: its build records absolute paths, so a copy rebuilds it), the version
    stamp, the kallsyms passes and the boot image's wrappers."""
    return [c for c in compiled if not c.startswith(("tools/", ".tmp_vmlinux", "arch/x86/boot/", "arch/arm64/boot/"))
            and c != "init/version-timestamp.o"]


def _blame(variant: KernelVariant, file: str | None) -> str | None:
    """The patch that touches the file a compiler error names (the last such), else the only patch."""
    if file is not None:
        hits = [p.ref for p in variant.patches if file in touched_files(p.data())]
        if hits:
            return hits[-1]
    return variant.patches[0].ref if len(variant.patches) == 1 else None


def variant_info(build: KernelBuild) -> dict[str, Any] | None:
    """The ``variant`` record of a variant's cache entry (None for a base kernel)."""
    try:
        return json.loads(marker_path(build.root).read_text()).get("variant")
    except (OSError, ValueError):
        return None
