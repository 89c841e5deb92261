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

import hashlib
import json
import os
import shutil
import time
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
from .patch import *  # noqa: F403 (the patches, the variant and their errors: patch.__all__)
from .patch import KernelPatch, KernelVariant, KernelVariantError, apply_patches, first_build_error, touched_files

if TYPE_CHECKING:
    pass

OBJ_DIR = "devbench-obj"  # the object dir's name inside the kept source tree


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
    image_root = kernel_path(arch, cache_dir, src)
    if is_complete(root) and is_complete(image_root):
        return root
    say = lambda text: _say(progress, f"kernel: {text}")  # noqa: E731
    # the image entry's lock first (then the tree's; nothing takes them the other way round): a
    # feature-kernel build started meanwhile (ensure_kernel) waits for this one and uses its image
    with building(image_root, on_wait=say) as image_needed:
        with building(root, on_wait=say) as needed:
            if needed:
                _build_tree(root, arch, src, progress, jobs or os.cpu_count() or 1, stall)
        if image_needed:
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
    """The feature kernel's image entry from the tree's build (the caller holds its lock)."""
    info = json.loads(marker_path(tree_root).read_text())
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
