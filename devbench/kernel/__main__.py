"""``python -m devbench.kernel build|fragment|check``.

- ``build --arch x86_64|arm64|all``: build (or find cached) kernels; progress on stderr, the
  result as JSON on stdout. Exit 1 when a build fails. With ``--patch P`` (repeatable; a
  shipped patch's name, or a path) and ``--name N``: a kernel variant, the feature kernel
  plus those patches (devbench.kernel.variant), built incrementally from the kept base tree.
- ``patches``: list the patches devbench ships.
- ``fragment --arch x86_64|arm64``: print the config fragment.
- ``check KERNEL_IMAGE [--arch]``: print what the kernel's config lacks; exit 0 when no
  required option is missing, 1 otherwise (2 when no config can be found).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .build import ensure_kernel
from .errors import KernelError
from .fragment import ARCHES, fragment_text
from .kconfig import check_config, find_config, guess_arch, parse_config


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devbench.kernel", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or find cached) guest kernels")
    b.add_argument("--arch", choices=[*ARCHES, "all"], default="x86_64")
    b.add_argument("--source", help="kernel source .tar.xz or tree (default: newest /usr/src/linux-source-*.tar.xz)")
    b.add_argument("--cache-dir", type=Path)
    b.add_argument("--jobs", type=int)
    b.add_argument("--patch", action="append", default=[], metavar="PATCH",
                   help="build a variant: the feature kernel plus this patch (repeatable, applied in order): "
                        "a shipped patch's name (see `patches`) or a path (./my.patch)")
    b.add_argument("--name", help="the variant's name (default: from the patches' file names)")
    b.add_argument("--keep-tree", action="store_true",
                   help="build the feature kernel in a kept tree (about 1.8 GiB of cache) that patched variants "
                        "reuse: a variant then recompiles only what its patches touch")
    sub.add_parser("patches", help="list the kernel patches devbench ships")
    frag = sub.add_parser("fragment", help="print the kernel config fragment")
    frag.add_argument("--arch", choices=ARCHES, default="x86_64")
    frag.add_argument("--required-only", action="store_true", help="without devbench's build-recipe settings")
    c = sub.add_parser("check", help="check a kernel image's config against devbench's requirements")
    c.add_argument(
        "image", type=Path, help="bzImage, Image, vmlinux, /boot/vmlinuz-*, or a config file (.config, /proc/config.gz)"
    )
    c.add_argument("--arch", choices=ARCHES, help="default: from the config")
    c.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    if args.cmd == "fragment":
        sys.stdout.write(fragment_text(args.arch, build=not args.required_only))
        return 0

    if args.cmd == "patches":
        from .variant import PATCHES_DIR, shipped_patches

        for name in shipped_patches():
            print(PATCHES_DIR / name)
        return 0

    if args.cmd == "build":
        arches = list(ARCHES) if args.arch == "all" else [args.arch]
        out: dict[str, dict[str, object]] = {}
        rc = 0
        variant = None
        if args.patch or args.name:
            from .variant import make_variant

            try:
                variant = make_variant(args.patch, args.name)
            except ValueError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
        for arch in arches:
            try:
                if variant is not None:
                    from .variant import ensure_variant, variant_info

                    k = ensure_variant(arch, variant, cache_dir=args.cache_dir, source=args.source,
                                       progress=_progress, jobs=args.jobs)
                    v = variant_info(k) or {}
                    out[arch] = {"variant": variant.name, "patches": v.get("patches"),
                                 "compiled": len(v.get("compiled") or []),
                                 "tree_build_seconds": v.get("tree_build_seconds")}
                else:
                    if args.keep_tree:
                        from .variant import ensure_tree

                        ensure_tree(arch, cache_dir=args.cache_dir, source=args.source, progress=_progress,
                                    jobs=args.jobs)
                    k = ensure_kernel(arch, cache_dir=args.cache_dir, source=args.source, progress=_progress,
                                      jobs=args.jobs)
            except KernelError as e:
                print(f"error: {e}", file=sys.stderr)
                out[arch] = {"error": str(e)}
                rc = 1
                continue
            out[arch] = {**out.get(arch, {}), "image": str(k.image), "config": str(k.config), "version": k.version,
                         "fragment_hash": k.fragment_hash, "build_seconds": k.build_seconds,
                         "system_map": str(k.system_map) if k.system_map else None,
                         "vmlinux": str(k.vmlinux) if k.vmlinux else None}
        print(json.dumps(out, indent=1))
        return rc

    # check
    notes: list[str] = []
    p: Path = args.image
    found = find_config(p, notes)
    if found is None:
        print(f"{p}: no kernel config found (no IKCONFIG inside, no .config or config-* beside it)",
              file=sys.stderr)
        for n in notes:
            print(f"  note: {n}", file=sys.stderr)
        return 2
    text, source = found
    cfg = parse_config(text)
    arch = args.arch or guess_arch(cfg)
    if arch is None:
        print(f"{source}: cannot tell the arch (neither CONFIG_X86_64 nor CONFIG_ARM64): pass --arch",
              file=sys.stderr)
        return 2
    findings = check_config(cfg, arch)
    if args.json:
        print(json.dumps({"config": source, "arch": arch, "missing": [
            {"option": f.option, "wanted": f.wanted, "found": f.found, "why": f.why, "reason": f.reason}
            for f in findings]}, indent=1))
    else:
        print(f"config: {source} ({arch})")
        for f in findings:
            print(f"  {f}")
        print("ok: every required option is set" if not findings else f"{len(findings)} required option(s) missing")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
