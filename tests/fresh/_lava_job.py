"""The lab's LAVA in a fresh root: up, one real job through it, down (tests/fresh/test_fresh_lava.py).

Run inside the fresh root, as root, in a network namespace of its own with only loopback
(``unshare --net``): ``.venv/bin/python tests/fresh/_lava_job.py``. What it does, each step's
outcome on a ``== `` line that the test reads:

1. ``ip link set lo up`` (PostgreSQL, lava-server, the worker and the file server listen on
   127.0.0.1; QEMU's user-mode network reaches the file server at 10.0.2.2, this loopback);
2. the state a new machine has: PostgreSQL down, no database settings of lava-server's
   (its package postinst ran while PostgreSQL was down);
3. the caches the lab reads (feature kernel, lab rootfs, guest image, libguestfs kernel,
   stock kernel) are all there: nothing is built here (the network is gone; the host's
   caches are seen through an overlay); ``--no-cache-check`` leaves this out (a run that
   fails before the images);
4. ``python -m devlab.lava up``; when it fails: that PostgreSQL is down again (a start
   that fails half-way ends what it started), exit 1;
5. ``devbench run CONFIG --lava OPTIONS`` on the lab's feature-kernel device: one LAVA job,
   its results collected;
6. ``python -m devlab.lava down``, then no PostgreSQL cluster online
   (``pg_lsclusters``) and no process of the lab's left (read from /proc: this PID
   namespace holds every process the run started).

Also imported on the host (:func:`missing_caches`) to skip before anything starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONFIG = """\
run: {{name: fresh lava, output: {out}}}
targets:
  - {{name: unused, qemu: {{arch: x86_64, kernel: feature}}}}
device: {{max_map_count: auto}}
benchmark:
  vmas: 1024
  name_length: 79
  forks: 8
  warmup: 1
  batches: 2
  timeout_s: 120
  scenarios:
    - {{name: unpopulated, pages: 0}}
"""
# what a leftover of the lab looks like in a command line (PostgreSQL, gunicorn, the
# scheduler, the worker, QEMU, the file server)
LAB_PROCESSES = ("postgres", "gunicorn", "lava-server", "lava-scheduler", "lava-worker", "lava-run",
                 "qemu-system", "http.server")


class _Missing(Exception):
    pass


@contextlib.contextmanager
def _no_build(entry: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[bool]:
    raise _Missing(entry.name)
    yield False  # pragma: no cover


def missing_caches() -> list[str]:
    """What of the caches the lab's LAVA reads is not complete in devbench's cache (each
    looked up by the lab's own functions, which would build it: here they are stopped before
    a build starts)."""
    from unittest import mock

    from devbench.guest import rootfs
    from devbench.kernel import build as kernel_build
    from devbench.qemu import stock
    from devlab.lava import guest

    checks: dict[str, Callable[[], Any]] = {
        "the x86_64 feature kernel": lambda: kernel_build.ensure_kernel("x86_64"),
        "the amd64 lab rootfs": lambda: rootfs.ensure_rootfs(arch="amd64"),
        "the LAVA guest image": guest.guest_image,
        "the libguestfs (supermin) kernel": guest.supermin_kernel,
        "the stock kernel": lambda: stock.stock_kernel("x86_64"),
    }
    missing = []
    with contextlib.ExitStack() as stack:
        for mod in (kernel_build, rootfs, guest, stock):
            stack.enter_context(mock.patch.object(mod, "building", _no_build))
        for what, check in checks.items():
            try:
                check()
            except _Missing as e:
                missing.append(f"{what} ({e})")
    return missing


def _sh(cmd: list[str], timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _say(line: str) -> None:
    print(line, flush=True)


def _clusters() -> str:
    """pg_lsclusters' status column(s): "down", "online"."""
    cp = _sh(["pg_lsclusters", "-h"])
    return ",".join(ln.split()[3] for ln in cp.stdout.splitlines() if len(ln.split()) >= 6) or "none"


def _leftovers() -> list[str]:
    me = os.getpid()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd and any(p in cmd for p in LAB_PROCESSES):
            out.append(f"{d.name}: {cmd[:160]}")
    return out


def _after(what: str) -> bool:
    """PostgreSQL and the lab's processes after ``what``: True when all are gone."""
    status, left = _clusters(), _leftovers()
    _say(f"== postgres after {what}: {status}")
    _say(f"== lab processes after {what}: {'none' if not left else '; '.join(left)}")
    return "online" not in status and not left


def _lab(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    cp = _sh([sys.executable, "-m", "devlab.lava", *args], timeout=timeout)
    for line in (cp.stdout + cp.stderr).splitlines():
        _say(f"   {line}")
    return cp


def main() -> int:
    t0 = time.monotonic()
    cp = _sh(["ip", "link", "set", "lo", "up"])
    if cp.returncode != 0:
        _say(f"== loopback: ip link set lo up failed: {cp.stderr.strip()}")
        return 2
    links = _sh(["ip", "-o", "link", "show"]).stdout  # netlink: this namespace's (/sys is the host's)
    _say(f"== network: {' '.join(sorted(ln.split(':')[1].strip().split('@')[0] for ln in links.splitlines()))}")
    from devlab.lava import instance

    state = instance.state_dir()
    if state.exists():  # the host's instance, seen through the cache overlay: not this machine's
        shutil.rmtree(state)  # (its token is in no database here); the host's copy stays as it is
        _say(f"== removed the host's instance state {state} (in this root only)")
    settings = sorted(p.name for p in Path("/etc/lava-server/settings.d").glob("*"))
    _say(f"== new machine: postgres {_clusters()}; lava-server settings.d: {' '.join(settings) or 'empty'}")
    if "--no-cache-check" not in sys.argv[1:]:  # a run that fails before the images needs none
        missing = missing_caches()
        if missing:
            _say(f"== missing caches: {'; '.join(missing)}")
            return 3
        _say("== caches: all there")

    t = time.monotonic()
    up = _lab(["up"], timeout=1200)
    _say(f"== up: exit {up.returncode} after {time.monotonic() - t:.0f} s")
    if up.returncode != 0:
        _after("the failed up")
        return 1
    lab = json.loads(up.stdout)
    running = instance.lab_of()
    assert running is not None and running.url == lab["url"], (running, lab)
    work = Path("/root/lava-job")
    work.mkdir(parents=True, exist_ok=True)
    cfg, opts = work / "config.yaml", work / "lava-feature.yaml"
    cfg.write_text(CONFIG.format(out=work / "out"))
    opts.write_text(json.dumps(instance.lava_options(running, "feature")))  # JSON is YAML
    env = {**os.environ, "DEVBENCH_LAVA_TOKEN": running.token(), "XDG_CONFIG_HOME": str(work / "no-lavacli")}
    t = time.monotonic()
    run = _sh([sys.executable, "-m", "devbench", "run", str(cfg), "--lava", str(opts)], timeout=1500, env=env)
    _say(f"== job run: exit {run.returncode} after {time.monotonic() - t:.0f} s")
    for line in run.stderr.splitlines()[-40:]:
        _say(f"   {line}")
    ok = run.returncode == 0
    runs = [
        ln.split("devbench: run ", 1)[1].strip() for ln in run.stderr.splitlines() if ln.startswith("devbench: run ")
    ]
    if runs:
        run_dir = Path(runs[0])
        data = json.loads((run_dir / "results.json").read_text())
        job = json.loads((run_dir / "lava" / "lava-feature" / "job.json").read_text())
        status = {tg["name"]: tg["status"] for tg in data["targets"]}
        samples = [s for s in data["samples"] if s["target"] == "lava-feature"]
        _say(f"== job {job.get('job')}: health {job.get('health')}; targets {status}; "
             f"{len(samples)} batches, {sum(len(s['fork_ns']) for s in samples)} forks")
        ok = ok and job.get("health") == "Complete" and status == {"lava-feature": "ok"} and bool(samples)

    t = time.monotonic()
    down = _lab(["down"], timeout=300)
    _say(f"== down: exit {down.returncode} after {time.monotonic() - t:.0f} s")
    clean = _after("down")
    _say(f"== total: {time.monotonic() - t0:.0f} s")
    return 0 if ok and down.returncode == 0 and clean else 1


if __name__ == "__main__":
    sys.exit(main())
