"""Kernel variants (devbench.kernel.variant): patch references, the cache key, the config's
`kernel:` mapping and its errors, and a variant built from a tiny fake kept tree (a fake
Makefile): only what the patch touches is rebuilt, the kept tree is never written, and a patch
that does not apply or a build that fails is one line naming the patch and the first error."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from devbench.cache import is_complete, mark_complete
from devbench.config import load_config, parse_text
from devbench.errors import ConfigError
from devbench.kernel import variant as kv
from devbench.kernel.build import kernel_key, kernel_path
from devbench.kernel.errors import KernelError

STRDUP = "anon-name-strdup.patch"


def config_text(kernel: str) -> str:
    return f"""\
targets:
  - name: kut
    qemu: {{arch: x86_64, kernel: {kernel}}}
benchmark:
  scenarios:
    - {{name: unpopulated, pages: 0}}
"""


def write_config(tmp_path: Path, kernel: str) -> Path:
    p = tmp_path / "cfg" / "run.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(config_text(kernel))
    return p


def cfg_error(tmp_path: Path, kernel: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, kernel))
    return info.value


# ---- the shipped patch


def test_the_strdup_patch_ships_in_git_diff_format_and_touches_only_fork_c():
    assert STRDUP in kv.shipped_patches()
    data = (kv.PATCHES_DIR / STRDUP).read_bytes()
    assert b"\ndiff --git a/kernel/fork.c b/kernel/fork.c\n" in data
    assert kv.touched_files(data) == ["kernel/fork.c"]
    text = data.decode()
    # the fork path copies the name; vm_area_dup (VMA splits too) still shares it
    assert "+\t\ttmp = vm_area_dup_fork(mpnt);" in text and "-\t\ttmp = vm_area_dup(mpnt);" in text
    assert "+\t\tnew->anon_name = anon_vma_name_alloc(anon_name->name);" in text
    # vm_area_dup itself is not changed: no line of the patch removes or adds to it
    assert "dup_anon_vma_name" not in "".join(ln for ln in text.splitlines(True) if ln[:1] in "+-")
    assert sum(ln.startswith("-") and not ln.startswith("---") for ln in text.splitlines()) == 1


def test_the_patches_folder_is_inside_the_package():
    # hatchling ships every file under devbench/ in the wheel: no force-include needed
    assert kv.PATCHES_DIR.parent == Path(kv.__file__).resolve().parent
    assert kv.PATCHES_DIR.is_relative_to(Path(kv.__file__).resolve().parents[1])


# ---- patch references


def test_find_patch_shipped_by_name_user_by_path(tmp_path):
    p = kv.find_patch(STRDUP, tmp_path)
    assert p.shipped and p.path == kv.PATCHES_DIR / STRDUP
    (tmp_path / "mine.patch").write_text("x")
    q = kv.find_patch("./mine.patch", tmp_path)
    assert not q.shipped and q.path == tmp_path / "mine.patch" and q.ref == "./mine.patch"


def test_find_patch_errors_suggest(tmp_path):
    with pytest.raises(ValueError, match=r"did you mean 'anon-name-strdup.patch'\?"):
        kv.find_patch("anon-name-strdp.patch", tmp_path)
    (tmp_path / "mine.patch").write_text("x")
    with pytest.raises(ValueError, match=r"write \./mine\.patch"):
        kv.find_patch("mine.patch", tmp_path)
    with pytest.raises(ValueError, match=r"does not exist \(relative to"):
        kv.find_patch("./nope.patch", tmp_path)
    with pytest.raises(ValueError):
        kv.find_patch("./" + "x" * 5000, tmp_path)  # a name too long: not a file, no OSError


# ---- the cache key


def _patch(tmp_path: Path, name: str, data: bytes) -> kv.KernelPatch:
    p = tmp_path / name
    p.write_bytes(data)
    return kv.KernelPatch("./" + name, p, False)


def test_patches_key_hashes_bytes_in_order_not_names(tmp_path):
    a = _patch(tmp_path, "a.patch", b"one")
    b = _patch(tmp_path, "b.patch", b"two")
    a2 = _patch(tmp_path, "renamed.patch", b"one")
    assert kv.patches_key((a,)) == kv.patches_key((a2,))
    assert kv.patches_key((a, b)) != kv.patches_key((b, a))
    before = kv.patches_key((a,))
    a.path.write_bytes(b"one!")
    assert kv.patches_key((a,)) != before


def test_variant_path_extends_the_base_kernel_entry(tmp_path, fake_source):
    v = kv.KernelVariant("strdup", (_patch(tmp_path, "a.patch", b"one"),))
    base = kernel_path("x86_64", tmp_path / "cache", fake_source)
    vp = kv.variant_path("x86_64", v, tmp_path / "cache", fake_source)
    assert vp.parent == base.parent and vp.name == f"{base.name}-p{kv.patches_key(v.patches)}"
    assert kernel_key("x86_64", fake_source) in vp.name
    assert kv.tree_path("x86_64", tmp_path / "cache", fake_source).name == base.name + "-tree"
    renamed = kv.KernelVariant("other", v.patches)  # the name is a label: same content, same kernel
    assert kv.variant_path("x86_64", renamed, tmp_path / "cache", fake_source) == vp


# ---- the config


def test_config_kernel_strings_unchanged():
    for kernel, want in (("feature", "feature"), ("stock", "stock"), ("~/linux/bzImage", "~/linux/bzImage")):
        cfg = parse_text(config_text(kernel))
        o = cfg.targets[0].options
        assert o.kernel == want and o.kernel_variant is None
    o = parse_text(config_text("feature").replace(", kernel: feature", "")).targets[0].options
    assert o.kernel == "feature" and o.kernel_variant is None


def test_config_kernel_variant_shipped_and_user_patches(tmp_path):
    (tmp_path / "cfg" / "patches").mkdir(parents=True)
    (tmp_path / "cfg" / "patches" / "my.patch").write_text("diff\n")
    cfg = load_config(write_config(tmp_path, f"{{patches: [{STRDUP}, ./patches/my.patch], name: strdup}}"))
    o = cfg.targets[0].options
    assert o.kernel == "feature"
    v = o.kernel_variant
    assert v.name == "strdup" and [p.ref for p in v.patches] == [STRDUP, "./patches/my.patch"]
    assert v.patches[0].shipped and v.patches[1].path == tmp_path / "cfg" / "patches" / "my.patch"
    # no name: from the patches' file names
    v = load_config(write_config(tmp_path, f"{{patches: [{STRDUP}]}}")).targets[0].options.kernel_variant
    assert v.name == "anon-name-strdup"


def test_a_resumed_run_finds_relative_patches_from_its_config_folder(tmp_path, monkeypatch):
    """`devbench run --resume RUN` from another folder: the run's recorded config finds
    ./patches/my.patch where the config file it started from did (the folder is in the sealed
    run.config_file, made absolute at the start), not in the current folder."""
    from devbench.config import config_of
    from devbench.run.runner import start_run

    (tmp_path / "cfg" / "patches").mkdir(parents=True)
    (tmp_path / "cfg" / "patches" / "my.patch").write_text("diff\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write_config(tmp_path, "{patches: [./patches/my.patch], name: mine}").relative_to(tmp_path))
    run_dir, store = start_run(cfg, str(tmp_path / "out"))
    store.save()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    [p] = config_of(str(run_dir)).targets[0].options.kernel_variant.patches
    assert p.path == tmp_path / "cfg" / "patches" / "my.patch" and p.data() == b"diff\n"
    recorded = json.loads((run_dir / "results.json").read_text())["run"]["config_file"]
    assert recorded == str(tmp_path / "cfg" / "run.yaml")


@pytest.mark.parametrize(
    "kernel, field, words",
    [
        (
            "{patches: [anon-name-strdp.patch]}",
            "targets[0].qemu.kernel.patches[0]",
            "did you mean 'anon-name-strdup.patch'",
        ),
        ("{patches: [anon-name-strdup.patch, ./gone.patch]}", "targets[0].qemu.kernel.patches[1]", "does not exist"),
        ("{patches: []}", "targets[0].qemu.kernel.patches", "non-empty list"),
        ("{name: strdup}", "targets[0].qemu.kernel.patches", "is required"),
        ("{patches: [anon-name-strdup.patch], nmae: strdup}", "targets[0].qemu.kernel.nmae", "did you mean 'name'"),
        ("{patches: [anon-name-strdup.patch], name: feature}", "targets[0].qemu.kernel.name", "built-in kernel"),
        ("{patches: [anon-name-strdup.patch], name: 'a b'}", "targets[0].qemu.kernel.name", "letters, digits"),
        ("{patches: [anon-name-strdup.patch], base: stock}", "targets[0].qemu.kernel.base", "feature"),
        (
            "{patches: [anon-name-strdup.patch, anon-name-strdup.patch]}",
            "targets[0].qemu.kernel.patches[1]",
            "listed twice",
        ),
        ("{patches: [3]}", "targets[0].qemu.kernel.patches[0]", "a string"),
        ("[anon-name-strdup.patch]", "targets[0].qemu.kernel", "{patches:"),
    ],
)
def test_config_kernel_variant_errors_name_file_line_column(tmp_path, kernel, field, words):
    e = cfg_error(tmp_path, kernel)
    assert e.field == field and words in e.message, str(e)
    assert e.file.endswith("run.yaml") and e.line == 3 and e.column is not None
    assert "\n" not in str(e)


# ---- patch output and build output: the first error


def test_first_patch_error_of_gnu_patch_outputs():
    assert kv.first_patch_error("checking file kernel/fork.c\nHunk #1 FAILED at 510.\n1 out of 1 hunk FAILED\n") == \
        ("Hunk #1 FAILED at 510 (kernel/fork.c)", "kernel/fork.c")
    out = ("can't find file to patch at input line 3\nPerhaps you used the wrong -p or --strip option?\n"
           "The text leading up to this was:\n--------------------------\n|--- a/kernel/nope.c\n|+++ b/kernel/nope.c\n"
           "--------------------------\nNo file to patch.  Skipping patch.\n1 out of 1 hunk ignored\n")
    assert kv.first_patch_error(out) == ("no file kernel/nope.c in the source", "kernel/nope.c")
    assert (
        kv.first_patch_error(
            "checking file kernel/fork.c\nReversed (or previously applied) patch detected!  "
            "Skipping patch.\n1 out of 1 hunk ignored\n"
        )[0]
        == "reversed or already applied (kernel/fork.c)"
    )
    assert (
        kv.first_patch_error("patch: **** Only garbage was found in the patch input.\n")[0]
        == "not a patch (no diff in it)"
    )


def test_first_build_error_strips_kbuild_relative_paths():
    text = ("  CC      kernel/fork.o\n../kernel/fork.c: In function 'dup_mmap':\n"
            "../kernel/fork.c:741:23: error: 'foo' undeclared (first use in this function)\n"
            "make[4]: *** [../scripts/Makefile.build:229: kernel/fork.o] Error 1\n")
    assert kv.first_build_error(text) == ("kernel/fork.c:741:23: error: 'foo' undeclared (first use in this function)",
                                          "kernel/fork.c")
    assert kv.first_build_error("make: *** [Makefile:1] Error 2\n")[0] == "make: *** [Makefile:1] Error 2"


# ---- a variant built from a fake kept tree

FAKE_MAKEFILE = """\
O ?= .
bzImage: $(O)/arch/x86/boot/bzImage
$(O)/kernel/fork.o: kernel/fork.c
\t@if grep -q BROKEN $<; then echo "../kernel/fork.c:3:1: error: expected ';' before '}' token"; exit 1; fi
\t@echo "  CC      kernel/fork.o"
\t@mkdir -p $(dir $@) && cp $< $@
$(O)/mm/other.o: mm/other.c
\t@echo "  CC      mm/other.o"
\t@mkdir -p $(dir $@) && cp $< $@
$(O)/arch/x86/boot/bzImage: $(O)/kernel/fork.o $(O)/mm/other.o
\t@mkdir -p $(dir $@) && cat $^ > $@
.PHONY: bzImage
"""
FORK_C = "int a;\nint b;\nint c;\nint d;\n"


@pytest.fixture
def fake_source(tmp_path) -> Path:
    d = tmp_path / "linux-src"
    (d / "kernel").mkdir(parents=True)
    (d / "mm").mkdir()
    (d / "Makefile").write_text(FAKE_MAKEFILE)
    (d / "Kconfig").write_text("")
    (d / "kernel" / "fork.c").write_text(FORK_C)
    (d / "mm" / "other.c").write_text("int other;\n")
    return d


@pytest.fixture
def kept_tree(tmp_path, fake_source, monkeypatch):
    """A complete `-tree` entry for the fake source, as a base build leaves it (objects newer than sources)."""
    monkeypatch.setattr(kv, "_check_tools", lambda arch: None)
    cache = tmp_path / "cache"
    root = kv.tree_path("x86_64", cache, fake_source)
    src = root / "src"
    root.mkdir(parents=True)
    subprocess.run(["cp", "-a", f"{fake_source}/.", str(src)], check=True)
    old = time.time() - 3600
    for p in src.rglob("*"):
        os.utime(p, (old, old))
    obj = src / kv.OBJ_DIR
    (obj / "include/config").mkdir(parents=True)
    (obj / "include/config/kernel.release").write_text("6.12.0-devbench\n")
    (obj / ".config").write_text("CONFIG_ANON_VMA_NAME=y\n")
    (obj / "System.map").write_text("ffffffff81000000 T _text\n")
    res = subprocess.run(["make", "-C", str(src), f"O={obj}", "bzImage"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    mark_complete(root, {"build_seconds": 600.0, "version": "6.12.0-devbench"})
    return cache, root


def unified(tmp_path: Path, name: str, old: str, new: str, path: str = "kernel/fork.c") -> Path:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(old)
    b.write_text(new)
    res = subprocess.run(["diff", "-u", "--label", f"a/{path}", "--label", f"b/{path}", str(a), str(b)],
                         capture_output=True, text=True)
    p = tmp_path / name
    p.write_text(f"diff --git a/{path} b/{path}\n" + res.stdout)
    return p


def test_variant_rebuilds_only_what_the_patch_touches_and_keeps_the_tree(tmp_path, fake_source, kept_tree):
    cache, root = kept_tree
    kept_fork = root / "src" / "kernel" / "fork.c"
    ino = kept_fork.stat().st_ino
    patch = unified(tmp_path, "x.patch", FORK_C, FORK_C.replace("int b;", "int b2;"))
    v = kv.make_variant([str(patch)], "x", tmp_path)
    k = kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source)
    assert b"int b2;" in k.image.read_bytes() and b"int other;" in k.image.read_bytes()
    assert k.image.parent == kv.variant_path("x86_64", v, cache, fake_source) and is_complete(k.image.parent)
    assert k.version == "6.12.0-devbench" and k.config.read_text() == "CONFIG_ANON_VMA_NAME=y\n"
    info = kv.variant_info(k)
    assert info["compiled"] == ["kernel/fork.o"]  # mm/other.o kept its object: timestamps kept
    assert info["name"] == "x" and info["patches"][0]["sha256"] == kv.KernelPatch("", patch, False).sha256()
    assert info["tree_build_seconds"] == 600.0
    assert kept_fork.read_text() == FORK_C and kept_fork.stat().st_ino == ino  # the kept tree untouched
    assert not list(cache.glob("*.tmp-*"))
    # the base image entry, missing, was filled from the kept tree's own build
    base = kernel_path("x86_64", cache, fake_source)
    assert is_complete(base) and (base / "bzImage").read_bytes() == (
        root / "src" / kv.OBJ_DIR / "arch/x86/boot/bzImage").read_bytes()
    t0 = time.monotonic()
    assert kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source) == k  # cached
    assert time.monotonic() - t0 < 2


def test_break_links_gives_the_file_its_own_inode(tmp_path):
    a = tmp_path / "a"
    (a / "d").mkdir(parents=True)
    (a / "d" / "f.c").write_text("x\n")
    subprocess.run(["cp", "-al", str(a), str(tmp_path / "b")], check=True)
    kv.break_links(tmp_path / "b", ["d/f.c", "d/missing.c", "../../etc/passwd"])
    assert (tmp_path / "b" / "d" / "f.c").stat().st_ino != (a / "d" / "f.c").stat().st_ino
    assert (a / "d" / "f.c").stat().st_nlink == 1


def test_a_patch_that_does_not_apply_is_one_line(tmp_path, fake_source, kept_tree):
    cache, root = kept_tree
    good = unified(tmp_path, "good.patch", FORK_C, FORK_C.replace("int a;", "int a1;"))
    bad = unified(tmp_path, "bad.patch", "int x;\nint y;\nint z;\n", "int x;\nint Y;\nint z;\n")
    v = kv.make_variant([str(good), str(bad)], "strdup", tmp_path)
    with pytest.raises(kv.KernelVariantError) as info:
        kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source)
    e = info.value
    assert str(e).startswith(f"kernel variant strdup: {bad} does not apply: Hunk #1 FAILED at 1 (kernel/fork.c)")
    assert "\n" not in str(e) and isinstance(e, KernelError)
    assert (e.variant, e.patch, e.what, e.file) == ("strdup", str(bad), "does not apply", "kernel/fork.c")
    assert e.first_error == "Hunk #1 FAILED at 1 (kernel/fork.c)"
    assert not is_complete(kv.variant_path("x86_64", v, cache, fake_source))
    assert not list(cache.glob("*.tmp-*")) and (root / "src" / "kernel" / "fork.c").read_text() == FORK_C


def test_a_patch_that_needs_fuzz_does_not_apply(tmp_path, fake_source, kept_tree):
    cache, _ = kept_tree
    # the hunk's context (int a;, int c;) differs from the tree's: refused, not applied with fuzz
    p = unified(tmp_path, "fuzzy.patch", "int A;\nint b;\nint C;\nint d;\n", "int A;\nint B;\nint C;\nint d;\n")
    v = kv.make_variant([str(p)], "fuzzy", tmp_path)
    with pytest.raises(kv.KernelVariantError) as info:
        kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source)
    assert info.value.first_error.startswith("Hunk #1 FAILED at 1")


def test_a_patch_for_a_missing_file_is_one_line(tmp_path, fake_source, kept_tree):
    cache, _ = kept_tree
    p = unified(tmp_path, "nofile.patch", "a\n", "b\n", path="kernel/nope.c")
    v = kv.make_variant([str(p)], "v", tmp_path)
    with pytest.raises(kv.KernelVariantError) as info:
        kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source)
    assert info.value.first_error == "no file kernel/nope.c in the source" and "\n" not in str(info.value)


def test_a_build_that_fails_is_one_line_naming_the_patch(tmp_path, fake_source, kept_tree):
    cache, _ = kept_tree
    p = unified(tmp_path, "broken.patch", FORK_C, FORK_C.replace("int c;", "BROKEN"))
    v = kv.make_variant([str(p)], "broken", tmp_path)
    with pytest.raises(kv.KernelVariantError) as info:
        kv.ensure_variant("x86_64", v, cache_dir=cache, source=fake_source)
    e = info.value
    assert str(e).startswith(
        f"kernel variant broken: {p} build failed: kernel/fork.c:3:1: error: expected ';' before '}}' token".replace(
            "}}", "}"
        )
    )
    assert "\n" not in str(e) and e.log and e.file == "kernel/fork.c" and e.what == "build failed"
    assert not list(cache.glob("*.tmp-*"))


def test_qemu_target_records_a_variant_build_failure_as_kernel_build_failed(
    tmp_path, fake_source, kept_tree, monkeypatch
):
    """The QEMU target's path for a failed kernel build (TargetError "build kernel", recorded by
    the runner as kernel-build-failed for that target only): one line."""
    from devbench.config import QemuOptions
    from devbench.errors import TargetError
    from devbench.run.steps import TARGET_STEP_KINDS
    from devbench.targets import qemu

    cache, _ = kept_tree
    p = unified(tmp_path, "bad.patch", "q\n", "r\n")
    v = kv.make_variant([str(p)], "strdup", tmp_path)
    real = kv.ensure_variant
    monkeypatch.setattr(kv, "ensure_variant", lambda arch, variant, progress=None: real(
        arch, variant, cache_dir=cache, source=fake_source, progress=progress))
    with pytest.raises(TargetError) as info:
        qemu.resolve_boot("kut", QemuOptions(arch="x86_64", kernel_variant=v), lambda s: None)
    assert info.value.step == "build kernel" and TARGET_STEP_KINDS["build kernel"] == "kernel-build-failed"
    assert str(info.value).startswith("kut: build kernel: kernel variant strdup: ") and "\n" not in str(info.value)


def test_kernel_objects_leave_out_what_every_build_remakes():
    compiled = [".tmp_vmlinux1.kallsyms.o", "tools/objtool/check.o", "arch/x86/boot/header.o",
                "init/version-timestamp.o", "kernel/fork.o", "mm/madvise.o"]
    assert kv.kernel_objects(compiled) == ["kernel/fork.o", "mm/madvise.o"]
    assert kv._relative("/c/x.tmp-1/src/devbench-obj/tools/objtool/elf.o", Path("/c/x.tmp-1/src/devbench-obj")) == \
        "tools/objtool/elf.o"


def test_cli_lists_patches_and_refuses_an_unknown_one(capsys):
    from devbench.kernel.__main__ import main

    assert main(["patches"]) == 0
    assert capsys.readouterr().out.strip() == str(kv.PATCHES_DIR / STRDUP)
    assert main(["build", "--arch", "x86_64", "--patch", "anon-name-strdp.patch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no patch named 'anon-name-strdp.patch'") and "did you mean" in err
    assert main(["build", "--patch", STRDUP, "--name", "stock"]) == 2
    assert "built-in kernel" in capsys.readouterr().err
