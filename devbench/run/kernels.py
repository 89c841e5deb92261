"""A target's kernels compared in one run: its boots one after the other, in the order of
devbench.run.boots, each a run of the whole plan on one kernel (devbench.run.steps.run_target).

Each kernel's results are a target of their own in results.json (``<target>-<kernel>``, with
``kernel``, ``kernels_of`` and ``kernel_index``); its ``boots`` list says how each of its
boots went. A kernel that does not build is not built again for its later boots (they are
recorded as skipped); a boot that fails otherwise (a panic, a lost guest) does not stop the
boots after it. On ``--resume`` the boots that ended ok are not booted again; the others go on
from their first batch not measured, in a new boot with the same number.
"""

from __future__ import annotations

from typing import Any

from devbench.config import Config, TargetConfig
from devbench.results.store import ResultsStore, now
from devbench.run.boots import Boot, boots_of, kernel_targets
from devbench.run.context import Cancel, Progress
from devbench.run.steps import run_target

BUILD_FAILED = "kernel-build-failed"


def run_kernels(cfg: Config, tcfg: TargetConfig, store: ResultsStore, progress: Progress, cancel: Cancel,
                resume: bool = False) -> bool:
    """Every boot of every kernel of ``tcfg``'s ``kernels:``; True when all ended without errors."""
    subs = kernel_targets(tcfg)
    kernels = getattr(tcfg.options, "kernels", ())
    boots = getattr(tcfg.options, "boots", 2)
    for i, (sub, k) in enumerate(zip(subs, kernels, strict=True)):
        store.update_target(sub.name, kernel=k.name, kernels_of=tcfg.name, kernel_index=i,
                            boots=list(store.target(sub.name).get("boots") or []))
    unbuildable: set[int] = set()
    ok = True
    for k, boot in boots_of(len(subs), boots, cfg.benchmark.batches):
        cancel.check()
        sub = subs[k]
        if resume and boot_status(store, sub.name, boot.slot) == "ok":
            continue
        if k in unbuildable:
            record_boot(store, sub.name, boot, "skipped", now(), why="its kernel did not build (see the error above)")
            ok = False
            continue
        first, started = len(store.data["errors"]), now()
        try:
            ended_ok = run_target(cfg, sub, store, progress, cancel, resume, boot)
        except KeyboardInterrupt:
            record_boot(store, sub.name, boot, "interrupted", started)
            raise
        errors = [e for e in store.data["errors"][first:] if e.get("target") == sub.name]
        if any(e.get("kind") == BUILD_FAILED for e in errors):
            unbuildable.add(k)
        record_boot(store, sub.name, boot, "failed" if errors else "ok", started)
        ok = ok and ended_ok
    return ok


def boot_status(store: ResultsStore, name: str, slot: int) -> str | None:
    """How boot `slot` of a kernel's target ended, as recorded (None: not recorded)."""
    for b in store.target(name).get("boots") or []:
        if isinstance(b, dict) and b.get("boot") == slot:
            return str(b.get("status"))
    return None


def record_boot(store: ResultsStore, name: str, boot: Boot, status: str, started: str, why: str | None = None) -> None:
    """The boot's entry in its kernel's target record (replacing an earlier one of the same boot:
    a resumed boot), with its console log and kernel release where this boot recorded them."""
    rec = store.target(name)
    found = rec.get("transport_info")
    info: dict[str, Any] = found if isinstance(found, dict) else {}
    entry: dict[str, Any] = {"boot": boot.slot, "kernel_boot": boot.of_kernel + 1, "status": status,
                             "started": started, "ended": now()}
    if why:
        entry["why"] = why
    if boot.label(name) in str(info.get("console_log") or ""):  # this boot's, not an earlier one's
        entry.update(console_log=info.get("console_log"), boot_seconds=info.get("boot_seconds"),
                     kernel_release=(rec.get("facts") or {}).get("kernel_release"))
    boots = [b for b in rec.get("boots") or [] if not (isinstance(b, dict) and b.get("boot") == boot.slot)]
    store.update_target(name, boots=sorted([*boots, entry], key=lambda b: b.get("boot", 0)))
