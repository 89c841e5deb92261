"""Kernel patches: shipped with devbench (``devbench/kernel/patches/``, by file name) or the
user's own (``git diff`` / ``diff -u``, ``patch -p1``), the variant they make (KernelVariant),
the config's ``kernel:`` option of a QEMU target, applying them to a tree, and the first error
of a patch or a build in one line (KernelVariantError). Building and caching: variant.py."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import KernelError

if TYPE_CHECKING:
    from devbench.config.yamlsrc import Section

__all__ = ["KERNEL_MAPPING_HELP", "KernelPatch", "KernelVariant", "KernelVariantError", "MAX_PATCH_BYTES", "NAME_RE",
           "PATCHES_DIR", "RESERVED_NAMES", "apply_patches", "break_links", "check_name", "default_name",
           "find_patch", "first_build_error", "first_patch_error", "make_variant", "parse_kernel_option",
           "parse_patches", "shipped_patches", "touched_files"]

PATCHES_DIR = Path(__file__).resolve().parent / "patches"
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
    patches = parse_patches(ks)
    name = ks.value("name", check_name, None)
    ks.done()
    return "feature", KernelVariant(name or default_name(patches), patches)


def parse_patches(ks: Section, key: str = "patches") -> tuple[KernelPatch, ...]:
    """A section's ``patches:`` list (required, non-empty): shipped names or the user's own,
    relative to the config file's folder; an error names the entry's file:line:column."""
    refs = ks.raw(key)
    if not isinstance(refs, list) or not refs:
        raise ks.error(
            key,
            "must be a non-empty list of patches: shipped names "
            f"({', '.join(shipped_patches()) or 'none'}) or paths relative to the config (./my.patch)",
        )
    base_dir = ks.src.folder()
    patches: list[KernelPatch] = []
    for j, ref in enumerate(refs):
        try:
            if not isinstance(ref, str):
                raise ValueError(f"must be a patch name or path (a string), not {type(ref).__name__}")
            patches.append(find_patch(ref, base_dir))
            _no_repeats(tuple(patches))
        except ValueError as exc:
            raise ks.src.error(ks.path + (key, j), str(exc)) from None
    return tuple(patches)


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
        # offsets are taken (lines moved), fuzz is not (context that differs: a patch for another tree)
        base = ["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                "-d", str(tree), "-i", str(p.path)]
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
