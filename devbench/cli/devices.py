"""The device commands: `check` (look before touching), `restore` (undo a dead run's changes),
`kernel-config` (the kernel options devbench needs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devbench.cli.parser import EXIT_CHECK_REFUSALS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, default_config


def cmd_check(args: argparse.Namespace) -> int:
    from devbench.config import load_config, with_overrides
    from devbench.run.check import check, latest_earlier, render
    from devbench.targets.labhost import expand

    cfg = with_overrides(load_config(args.config or default_config(), args.overrides), targets=args.target,
                         output=args.output, serial=args.serial)
    cfg = expand(cfg)
    checks = check(cfg, build_payload=not args.no_build, earlier=latest_earlier(Path(cfg.run.output).expanduser()))
    print(render(checks, cfg), end="")
    if not all(c.ready for c in checks):
        return EXIT_FAILED
    return EXIT_CHECK_REFUSALS if any(c.left_out for c in checks) else EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from devbench.config import config_of, with_overrides
    from devbench.device.restore import restore_targets

    cfg = with_overrides(config_of(args.source), targets=args.target)
    ok = True
    for name, done, message in restore_targets(cfg):
        print(f"{name}: {message}")
        ok = ok and done
    return EXIT_OK if ok else EXIT_FAILED


def cmd_kernel_config(args: argparse.Namespace) -> int:
    from devbench.kernel.fragment import fragment_text

    if not args.check:
        print(fragment_text(args.arch), end="")
        return EXIT_OK
    from devbench.targets.qemu import kernel_findings

    kernel = Path(args.check).expanduser()
    if not kernel.is_file():
        print(f"devbench: kernel image {kernel} does not exist", file=sys.stderr)
        return EXIT_USAGE
    findings, source = kernel_findings(kernel, args.arch)
    for line in findings:
        print(line)
    if not findings:
        print(f"{kernel}: every option devbench needs is set ({source})")
    return EXIT_OK if not findings else EXIT_FAILED
