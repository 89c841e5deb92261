"""``python -m devlab.lava build|up|down|status``: the lab's LAVA instance (root).

build only fills the caches (guest image, libguestfs kernel); up starts the instance and
prints it as JSON (URL, user, token file, file server), never the token itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from devbench.guest.errors import LabError
from devlab.lava import instance


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devlab.lava", description=__doc__)
    p.add_argument("command", choices=("build", "up", "down", "status"))
    args = p.parse_args(argv)
    say = lambda s: print(f"lava-lab: {s}", file=sys.stderr)  # noqa: E731
    try:
        if args.command == "build":
            from devlab.lava.guest import guest_image, supermin_kernel

            say(f"guest image {guest_image()}")
            say(f"libguestfs kernel {supermin_kernel().kernel}")
            return 0
        if args.command == "up":
            lab = instance.up(say)
        elif args.command == "down":
            instance.down(say=say)
            return 0
        else:
            lab = instance.lab_of()
            if lab is None:
                print("lava-lab: not running", file=sys.stderr)
                return 1
    except LabError as exc:
        print(f"lava-lab: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: str(v) for k, v in asdict(lab).items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
