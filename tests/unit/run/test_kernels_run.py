"""Kernels compared in one run (devbench.run.boots, devbench.run.kernels): the boot order, and a
target with kernels: run boot by boot against a stand-in (this machine's shell on a stand-in
phone tree, as tests/unit/run/test_steps.py), the payload replaced by a recorder that numbers
batches as the real one does."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from devbench.config import parse_text
from devbench.errors import TargetError
from devbench.payload.build import Payload
from devbench.results.store import ResultsStore, new_results
from devbench.run import runner, steps
from devbench.run.boots import Boot, boot_batches, boot_order, boots_of, kernel_targets
from tests.unit.run.test_steps import Recorder, StandIn, tree  # noqa: F401 (tree: a fixture)


def test_boot_order_alternates_rounds_so_each_kernel_sits_at_the_same_mean_time():
    assert boot_order(2, 2) == [(0, 0), (1, 0), (1, 1), (0, 1)]  # A B B A
    assert boot_order(2, 4) == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 2), (1, 2), (1, 3), (0, 3)]
    assert [k for k, _ in boot_order(3, 2)] == [0, 1, 2, 2, 1, 0]
    for kernels, boots in ((2, 2), (2, 4), (3, 2), (3, 6), (4, 4)):
        order = boot_order(kernels, boots)
        means = {k: sum(s for s, (kk, _) in enumerate(order) if kk == k) / boots for k in range(kernels)}
        assert len(set(means.values())) == 1, (kernels, boots, means)  # a linear drift cancels
        assert all(sorted(j for kk, j in order if kk == k) == list(range(boots)) for k in range(kernels))
    odd = boot_order(2, 3)  # odd: the kernels' mean slots differ by at most one slot
    assert abs(sum(s for s, (k, _) in enumerate(odd) if k == 0) - sum(s for s, (k, _) in enumerate(odd) if k == 1)) <= 3


def test_boots_number_their_batches_on_per_kernel():
    boots = boots_of(2, 2, batches=5)
    assert [(k, b.slot, b.of_kernel, b.batch_offset, b.last_of_kernel) for k, b in boots] == [
        (0, 1, 0, 0, False), (1, 2, 0, 0, False), (1, 3, 1, 5, True), (0, 4, 1, 5, True)]
    assert boots[2][1].label("kut-strdup") == "kut-strdup-boot3"
    done = {0: 4, 1: 4, 5: 4, 6: 2}
    assert boot_batches(done, Boot(4, 1, 2, 4, 5), 5) == {0: 4, 1: 2}
    assert boot_batches(done, None, 5) == done


def _config(tmp_path: Path, root: str, kernels: str = "[{name: refcount}, {name: strdup, kernel: stock}]") -> str:
    return (f"run: {{name: kernels, output: {tmp_path / 'out'}}}\n"
            f"targets: [{{name: kut, qemu: {{arch: x86_64, workdir: {tmp_path / 'work'}, kernels: {kernels}, "
            f"boots: 2}}}}]\n"
            f"device: {{sysfs: {root}/sys, procfs: {root}/proc}}\n"
            f"benchmark: {{vmas: 512, forks: 6, batches: 3, scenarios: [{{name: unpopulated, pages: 0}}]}}\n")


def test_kernel_targets_are_one_per_kernel_with_that_kernel():
    cfg = parse_text(_config(Path("/tmp"), "/tmp/x", "[{name: refcount}, {name: strdup, patches: "
                                                    "[anon-name-strdup.patch]}, stock]"))
    subs = kernel_targets(cfg.targets[0])
    assert [t.name for t in subs] == ["kut-refcount", "kut-strdup", "kut-stock"]
    assert [(t.options.kernel, t.options.kernels) for t in subs] == [("feature", ()), ("feature", ()), ("stock", ())]
    assert subs[0].options.kernel_variant is None and subs[1].options.kernel_variant.name == "strdup"
    # the feature kernel of a list with a variant is built as the variants' kept tree (one full build)
    assert [t.options.keep_tree for t in subs] == [True, False, False]
    assert kernel_targets(parse_text(_config(Path("/tmp"), "/tmp/x").replace(
        "kernels: [{name: refcount}, {name: strdup, kernel: stock}], boots: 2", "kernel: feature")).targets[0]) == []


def test_the_kept_tree_is_built_before_the_feature_kernel_it_fills(monkeypatch):
    from devbench.kernel import build, variant
    from devbench.targets.qemu import resolve_boot

    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(variant, "ensure_tree", lambda arch, **kw: calls.append(("tree", arch)))
    monkeypatch.setattr(build, "ensure_kernel", lambda arch, **kw: calls.append(("kernel", arch)) or
                        type("K", (), {"image": "/k/bzImage"})())
    cfg = parse_text(_config(Path("/tmp"), "/tmp/x", "[{name: refcount}, {name: strdup, patches: "
                                                    "[anon-name-strdup.patch]}]"))
    feature, _ = kernel_targets(cfg.targets[0])
    assert resolve_boot("kut-refcount", feature.options, lambda text: None) == (Path("/k/bzImage"), None)
    assert calls == [("tree", "x86_64"), ("kernel", "x86_64")]
    calls.clear()  # without a variant in the list: the base build alone, as before
    alone = parse_text(_config(Path("/tmp"), "/tmp/x", "[{name: a}, {name: b}]"))
    resolve_boot("kut-a", kernel_targets(alone.targets[0])[0].options, lambda text: None)
    assert calls == [("kernel", "x86_64")]


@pytest.fixture
def guests(monkeypatch, tmp_path: Path) -> dict[str, Any]:
    """open_target gives a StandIn (a label per boot, as a QEMU guest's console log); the payload
    records every batch, numbered on by batch_offset and marked with the boot, as run_invocation."""
    state: dict[str, Any] = {"opened": [], "fail": {}}
    payload = tmp_path / "payload"
    payload.write_text("#!/bin/sh\n")

    def open_target(tcfg, run_dir, step, label=None, **kw):
        state["opened"].append((tcfg.name, label))
        if tcfg.name in state["fail"]:
            raise TargetError(tcfg.name, *state["fail"][tcfg.name])
        return StandIn(tcfg.name, tcfg.options, {"console_log": f"{run_dir}/console-{label}-1.log"}, [])

    def run_invocation(target, remote, inv, bench, store, progress, prefix=(), cancel=None, batch_offset=0,
                       boot=None):
        for b in range(bench.batches):
            for arm in inv.arms:
                store.add_sample(target.name, inv.scenario.name, arm, b + batch_offset, 0, [1000 + b] * 2,
                                 boot=boot)

    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    monkeypatch.setattr(steps, "open_target", open_target)
    monkeypatch.setattr(steps, "build", lambda abi, cfg: Payload(payload, abi or "x86_64", "stand-in", digest))
    monkeypatch.setattr(steps, "run_invocation", run_invocation)
    return state


def _store(tmp_path: Path, text: str) -> tuple[Any, ResultsStore]:
    cfg = parse_text(text)
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return cfg, ResultsStore(run_dir / "results.json", new_results("r1", "kernels", cfg.raw, cfg.file))


def _record(store: ResultsStore, name: str) -> dict[str, Any]:
    [t] = [t for t in store.data["targets"] if t["name"] == name]
    return t


def test_a_target_with_kernels_boots_them_in_turn_and_records_each_boot(tmp_path, tree, guests):  # noqa: F811
    cfg, store = _store(tmp_path, _config(tmp_path, tree))
    assert runner.execute(cfg, store, Recorder()) is True
    assert guests["opened"] == [("kut-refcount", "kut-refcount-boot1"), ("kut-strdup", "kut-strdup-boot2"),
                                ("kut-strdup", "kut-strdup-boot3"), ("kut-refcount", "kut-refcount-boot4")]
    by = {(s["target"], s["arm"], s["batch"]): s["boot"] for s in store.data["samples"]}
    assert {b for (t, arm, b), boot in by.items() if t == "kut-strdup" and boot == 3} == {3, 4, 5}
    assert {b for (t, arm, b), boot in by.items() if t == "kut-refcount" and boot == 1} == {0, 1, 2}
    assert len(by) == 2 * 2 * 2 * 3  # kernels x boots x arms x batches, none recorded over another
    for name, kernel, index, slots in (("kut-refcount", "refcount", 0, [1, 4]), ("kut-strdup", "strdup", 1, [2, 3])):
        rec = _record(store, name)
        assert (rec["kernel"], rec["kernels_of"], rec["kernel_index"], rec["status"]) == (kernel, "kut", index, "ok")
        assert [(b["boot"], b["kernel_boot"], b["status"]) for b in rec["boots"]] == [(slots[0], 1, "ok"),
                                                                                     (slots[1], 2, "ok")]
        assert all(b["console_log"].endswith(f"console-{name}-boot{b['boot']}-1.log") for b in rec["boots"])
    assert "kut" not in {t["name"] for t in store.data["targets"]}


def test_a_kernel_that_does_not_build_is_not_built_again_and_the_other_goes_on(tmp_path, tree, guests):  # noqa: F811
    guests["fail"]["kut-strdup"] = ("build kernel", "kernel variant strdup: x.patch does not apply")
    cfg, store = _store(tmp_path, _config(tmp_path, tree))
    assert runner.execute(cfg, store, Recorder()) is False
    assert [name for name, _ in guests["opened"]] == ["kut-refcount", "kut-strdup", "kut-refcount"]
    [err] = store.data["errors"]
    assert (err["target"], err["kind"]) == ("kut-strdup", "kernel-build-failed")
    strdup = _record(store, "kut-strdup")
    assert [(b["boot"], b["status"]) for b in strdup["boots"]] == [(2, "failed"), (3, "skipped")]
    assert "did not build" in strdup["boots"][1]["why"] and strdup["status"] == "failed"
    assert [b["status"] for b in _record(store, "kut-refcount")["boots"]] == ["ok", "ok"]
    assert {s["target"] for s in store.data["samples"]} == {"kut-refcount"}


def test_resume_boots_again_only_what_did_not_end_ok(tmp_path, tree, guests):  # noqa: F811
    cfg, store = _store(tmp_path, _config(tmp_path, tree))
    runner.execute(cfg, store, Recorder())
    strdup = _record(store, "kut-strdup")
    strdup["boots"][1]["status"] = "interrupted"  # boot 3 lost its last batch
    store.data["samples"] = [s for s in store.data["samples"] if not (s["boot"] == 3 and s["batch"] == 5)]
    store = ResultsStore(store.path, store.data)
    guests["opened"].clear()
    assert runner.execute(cfg, store, Recorder(), resume=True) is True
    assert guests["opened"] == [("kut-strdup", "kut-strdup-boot3")]
    assert sorted(s["batch"] for s in store.data["samples"] if s["target"] == "kut-strdup" and s["arm"] == "named") \
        == [0, 1, 2, 3, 4, 5]
    assert [b["status"] for b in _record(store, "kut-strdup")["boots"]] == ["ok", "ok"]
