"""`devbench check` through LocalTarget on a STAND-IN phone tree in tmp_path
(tests/standins/android_device.py): what it prints, and that every file of the tree, the
work folder and the stand-in's state are as they were."""

from __future__ import annotations

from pathlib import Path

from devbench.config import LocalOptions, parse_text
from devbench.run.check import check, latest_earlier, render
from devbench.targets.local import LocalTarget
from tests.standins import android_device as standin


def _tree(tmp_path: Path) -> str:
    root = str(tmp_path / "tree")
    standin.lay_out(LocalTarget("local", LocalOptions()), root, standin.tree_files())
    return root


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _config(tmp_path: Path, root: str, extra_scenario: str = "") -> str:
    return f"""run: {{name: chk, output: {tmp_path / 'out'}}}
targets: [{{name: here, local: {{workdir: {tmp_path / 'work'}}}}}]
device:
  cpufreq: {{governor: performance, khz: max, cpus: [0]}}
  sysfs: {root}/sys
  procfs: {root}/proc
benchmark:
  vmas: 512
  forks: 20
  batches: 2
  scenarios:
    - {{name: unpopulated, pages: 0}}
{extra_scenario}"""


def test_check_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (tmp_path / "work").mkdir()
    before = _files(Path(root))
    cfg = parse_text(_config(tmp_path, root, "    - {name: huge, pages: 100000}\n"))
    [c] = check(cfg, build_payload=False)
    text = render([c], cfg)
    assert _files(Path(root)) == before and list((tmp_path / "work").iterdir()) == []
    assert c.ready and c.lock == "free" and c.journal == "none"
    assert "vm.max_map_count: 1000 -> 1536 (512 VMAs need 1536 maps, the device allows 1000)" in text
    assert "policy0 scaling_governor: " in text and "-> performance" in text
    assert [r.kind for r in c.refusals] == [
        "not-enough-memory"
    ] and "huge: not-enough-memory: scenario 'huge' needs about" in text
    assert "unpopulated (0 pages per VMA): both arms, interleaved, 20 timed forks per arm" in text
    assert "40 timed forks in all" in text and "no estimate: no finished earlier run of 'here'" in text
    # a run would start, without the refused scenario: check says so, and exits 3 (cli)
    assert "ready      without huge (not enough memory)" in text
    assert "the run could start, with refusals (here: without huge (not enough memory)): it would exit 1" in text
    assert text.rstrip().endswith("nothing on the devices was changed")


def _without_anon_vma_name(root: str) -> None:
    """The stand-in's kernel config (procfs config.gz) says what this machine's does."""
    import gzip

    config = b"CONFIG_PERF_EVENTS=y\n# CONFIG_ANON_VMA_NAME is not set\n"
    Path(root, "proc", "config.gz").write_bytes(gzip.compress(config))


def test_check_predicts_the_named_arm_refused_on_a_kernel_without_the_feature(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _without_anon_vma_name(root)
    cfg = parse_text(_config(tmp_path, root, "    - {name: 1 page, pages: 1}\n"))
    [c] = check(cfg, build_payload=False)
    text = render([c], cfg)
    assert c.ready and c.left_out == "unnamed arm only (no CONFIG_ANON_VMA_NAME)"
    assert "CONFIG_ANON_VMA_NAME: not set" in text
    # the refusal once, naming every scenario it takes the named arm of
    assert text.count("CONFIG_ANON_VMA_NAME: the named arm cannot run") == 1
    assert ("  refused    the named arm of unpopulated, 1 page: kernel-lacks-anon-vma-name: the kernel's config has "
            "no CONFIG_ANON_VMA_NAME: the named arm cannot run (the unnamed arm does)") in text
    assert "unpopulated (0 pages per VMA): unnamed arm, 20 timed forks per arm" in text
    assert "  ready      unnamed arm only (no CONFIG_ANON_VMA_NAME)" in text
    assert ("devbench check: the run could start, with refusals (here: unnamed arm only (no CONFIG_ANON_VMA_NAME)): "
            "it would exit 1 (1 of 1 target(s) ready)") in text


def test_check_lets_the_placebo_run_on_a_kernel_without_the_feature(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _without_anon_vma_name(root)
    cfg = parse_text(_config(tmp_path, root).replace("  vmas: 512", "  vmas: 512\n  placebo: true"))
    [c] = check(cfg, build_payload=False)
    text = render([c], cfg)
    assert c.refusals == [] and c.left_out == "" and "ready      yes" in text
    assert "unpopulated (0 pages per VMA): both arms, interleaved, 20 timed forks per arm" in text


def test_check_refuses_when_every_scenario_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cfg = parse_text(_config(tmp_path, root).replace("pages: 0", "pages: 100000"))
    [c] = check(cfg, build_payload=False)
    assert not c.ready and "every scenario is refused" in c.problems[0]
    assert "ready      NO" in render([c], cfg) and "could not start" in render([c], cfg)


def test_check_sees_a_held_lock_and_a_journal_without_touching_them(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    lock = tmp_path / "work" / ".lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text(
        '{"host": "elsewhere", "pid": 4242, "run_id": "r0", "since": "2026-12-05T06:00:00+00:00"}\n'
    )
    cfg = parse_text(_config(tmp_path, root))
    [c] = check(cfg, build_payload=False)
    assert not c.ready and c.lock.startswith("held by devbench pid 4242 on elsewhere (run r0")
    assert (lock / "owner").read_text().startswith('{"host": "elsewhere"')


def test_estimate_from_the_newest_earlier_run(tmp_path: Path) -> None:
    import json

    root = _tree(tmp_path)
    run = tmp_path / "out" / "20261205-060000-chk-0001"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({
        "run": {"id": "20261205-060000-chk-0001", "status": "complete", "started": "2026-12-05T06:00:00+00:00",
                "ended": "2026-12-05T06:01:00+00:00",
                "config": {"benchmark": {"vmas": 512, "scenarios": [{"name": "unpopulated", "pages": 0}]}}},
        "samples": [{"target": "here", "scenario": "unpopulated", "arm": a, "batch": 0, "warmup": 0,
                     "fork_ns": [10_000_000] * 100} for a in ("unnamed", "named")]}))
    cfg = parse_text(_config(tmp_path, root))
    [c] = check(cfg, build_payload=False, earlier=latest_earlier(tmp_path / "out"))
    # 60 s in all, 2 s of it forks -> 58 s of the rest + (40 timed + 2 arms x 2 batches x 10 warm-up) x 10 ms
    assert c.estimate.startswith("about 59 s (from run 20261205-060000-chk-0001: 1 min 00 s in all, 58 s of it")


def test_device_strings_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A lock owner written by a hostile device: its escape sequence is printed as text."""
    root = _tree(tmp_path)
    lock = tmp_path / "work" / ".lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text('{"host": "evil\\u001b[2J\\u001b]0;pwned\\u0007", "pid": 1, "run_id": "r"}\n')
    cfg = parse_text(_config(tmp_path, root))
    text = render(check(cfg, build_payload=False), cfg)
    assert "\x1b" not in text and "\x07" not in text and "evil\\x1b[2J\\x1b]0;pwned\\x07" in text
