"""A fresh machine runs the lab's LAVA: it comes up where lava-server's postinst skipped its
database, runs one real job, and goes down leaving nothing running (issue 28, item 1).

In the fresh-machine root (tests/fresh/freshroot.py: a clean Debian 12 root after the
project's ``scripts/dev apt``, where lava-server was installed while PostgreSQL was down, as
on a new machine: no database settings, no role) the project's ``scripts/dev setup`` makes
the venv, then, in a network namespace of its own with only loopback (``unshare --net``: the
root's PostgreSQL and the lab's services cannot meet the host's), tests/fresh/_lava_job.py
runs ``python -m devlab.lava up``, one job through it (``devbench run --lava`` on the
feature-kernel device), ``python -m devlab.lava down``, then checks that PostgreSQL is
down and no process of the lab is left before the PID namespace ends.

Images are not built here: the host's devbench caches (feature kernel, lab rootfs, LAVA guest
image, libguestfs kernel; the host's ``scripts/dev test`` set-up builds them) are seen at
their own paths through an overlay (read-only in effect); the stock kernel, a download the
suite's QEMU tests make anyway, is fetched on the host first if it is missing. A missing
set-up image skips the test, naming it.

Measured warm (base and apt layers cached, the host's images built, pip cache warm) on 2
cores with the cold set-up's arm64 kernel build running beside it: 3 min 16 s, of which the
venv 35 s, ``up`` 62 s (PostgreSQL, the postinst's settings, role and database, migrations,
services), the job 83 s (LAVA: 79 s from submit to end), ``down`` 3 s. The layers, when not
cached: base 1 min, apt layer 9 min (the host's apt cache holding the debs).

The negative proof (the acceptance's "fails when the LAVA database step is removed"): with
the database step taken out of the copy's devlab/lava/instance.py (``_database`` never
runs lava-server's postinst), the test above fails (shown once, 48 s: "creating LAVA's
database settings" missing, ``up`` exit 1). The second test keeps that run: ``up`` fails in
the database step and PostgreSQL is down again afterwards; it fails before any image is
needed (no host caches, 40-55 s). Its output (2026-12-07, this machine):

    == network: lo
    == new machine: postgres down; lava-server settings.d: 00-secret-key.yaml
       lava-lab: starting PostgreSQL 15/main
       lava-lab: stopping PostgreSQL (pid 48), started by this lab
       lava-lab: lab database: lava-server manage migrate --noinput failed (exit 1):
         django.core.exceptions.ImproperlyConfigured: settings.DATABASES is improperly
         configured. Please supply the ENGINE value. [...]
    == up: exit 1 after 5 s
    == postgres after the failed up: down
    == lab processes after the failed up: none

And once, by hand, the code before the fix (``postinst.py --db`` alone in the copy): the
issue's error, ``lava-lab: lab database: /usr/bin/python3 /usr/share/lava-server/postinst.py
--db failed (exit 1): KeyError: 'DATABASES'`` (up exit 1 after 3 s, PostgreSQL down after).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from devbench.cache import cache_root
from tests.fresh import freshroot

pytestmark = [
    pytest.mark.fresh,
    pytest.mark.timeout(2400),
    pytest.mark.skipif(os.geteuid() != 0, reason="the fresh root needs root (mounts, namespaces)"),
    pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="needs mmdebstrap (scripts/dev apt)"),
]

P = freshroot.PROJECT_IN_ROOT
# the user's set-up (the venv with devbench), then the lab in a network namespace of its own
def _in_root(*args: str) -> list[str]:
    return ["bash", "-c", f"set -e; cd {P}; bash scripts/dev setup; "
            f"exec unshare --net -- {P}/.venv/bin/python {P}/tests/fresh/_lava_job.py {' '.join(args)}"]


DATABASE_STEP = "if settings is None or not has_role:"


def _host_caches() -> list[Path]:
    """The host's devbench cache (with the QEMU cache, the stock kernel's), what the lab reads
    complete in it; skips naming what the set-up has not built."""
    from devbench.qemu.image import qemu_cache_root
    from devbench.qemu.stock import stock_kernel
    from tests.fresh._lava_job import missing_caches

    missing = [m for m in missing_caches() if not m.startswith("the stock kernel")]
    if missing:
        pytest.skip(f"the host's cache lacks what scripts/dev test's set-up builds: {'; '.join(missing)}")
    stock_kernel("x86_64")  # a download and an initramfs (seconds); the suite's QEMU tests make it anyway
    folders = [cache_root()]
    if not qemu_cache_root().is_relative_to(cache_root()):  # it is ``cache_root()/qemu`` today
        folders.append(qemu_cache_root())
    return folders


def _lava_run(edit: Callable[[Path], None] | None = None, caches: bool = True) -> freshroot.FreshRun:
    """The fresh root's run; ``caches``: with the host's caches (else the run must fail
    before it needs an image: the in-root cache check is left out)."""
    folders = _host_caches() if caches else []
    cmd = _in_root() if caches else _in_root("--no-cache-check")
    return freshroot.run_setup(cmd, timeout=2100, edit=edit, host_folders=folders,
                               env={"DEVBENCH_CACHE": str(cache_root())})


def _show(run: freshroot.FreshRun) -> str:
    return f"exit {run.rc} after {run.seconds:.0f} s; output's end:\n" + "\n".join(run.output.splitlines()[-80:])


def _report(what: str, run: freshroot.FreshRun) -> None:
    print(f"\nfresh machine, lab LAVA{what}: {run.seconds:.0f} s")
    for line in run.output.splitlines():
        if line.startswith(("== ", "   lava-lab: ", "dev: ")):
            print("  " + line)


def test_fresh_machine_lava_comes_up_and_runs_a_job() -> None:
    run = _lava_run()
    _report("", run)
    out = run.output
    assert "== network: lo\n" in out, _show(run)
    # the state of a new machine: lava-server installed while PostgreSQL was down
    assert re.search(r"== new machine: postgres down; lava-server settings.d: (?!.*00-database)", out), _show(run)
    assert "== caches: all there" in out, _show(run)
    assert "creating LAVA's database settings, role and database" in out, _show(run)
    assert "== up: exit 0" in out, _show(run)
    assert re.search(r"== job \d+: health Complete; targets \{'lava-feature': 'ok'\}; [1-9]\d* batches", out), _show(
        run
    )
    assert "== down: exit 0" in out, _show(run)
    assert "== postgres after down: down" in out, _show(run)
    assert "== lab processes after down: none" in out, _show(run)
    assert run.rc == 0, _show(run)


def _without_database_step(project: Path) -> None:
    f = project / "devlab/lava/instance.py"
    text = f.read_text()
    assert text.count(DATABASE_STEP) == 1, f"{f}: the database step's condition changed; update the test"
    f.write_text(
        text.replace(DATABASE_STEP, "if False:  # the database step taken out (tests/fresh/test_fresh_lava.py)")
    )


def test_fresh_machine_lava_fails_without_the_database_step() -> None:
    """The negative proof: with the step taken out of the copy, up fails in the database step
    and leaves PostgreSQL down (the test above fails on the same run)."""
    run = _lava_run(edit=_without_database_step, caches=False)
    _report(" without the database step", run)
    out = run.output
    assert "== network: lo\n" in out, _show(run)
    assert "creating LAVA's database settings" not in out, _show(run)
    assert re.search(r"== up: exit [1-9]", out), _show(run)
    assert "lava-lab: lab database: " in out and "DATABASES" in out, _show(run)
    assert "== postgres after the failed up: down" in out, _show(run)
    assert "== lab processes after the failed up: none" in out, _show(run)
    assert run.rc == 1, _show(run)
