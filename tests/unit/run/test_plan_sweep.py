"""A VMA-count sweep's plan: every scenario at every count, the count the payload's argument;
refusals, resumes and progress labels per count (pure)."""

from dataclasses import replace

from devbench.config import BenchmarkConfig, DeviceConfig, Scenario
from devbench.device.fit import check_fit
from devbench.device.probe import Facts
from devbench.run.eta import planned_forks
from devbench.run.plan import MAP_COUNT_MARGIN, payload_args, plan, required_map_count, resumed

SCENARIOS = (Scenario("a", 0), Scenario("b", 10))
SWEEP = BenchmarkConfig(vmas=(256, 1024, 4096), forks=10, batches=2, warmup=1, scenarios=SCENARIOS)
FACTS = Facts(abi="x86_64", machine="x86_64", kernel_release="6.12", kernel_build="#1", android=False,
              android_sdk=None, model=None, root=True, cpus=2, cpus_online="0-1", mem_total_kb=4_000_000,
              mem_available_kb=3_000_000, max_map_count=65530, page_size=4096, kernel_config={"ANON_VMA_NAME": "y"})


def opt(args, name):
    return args[args.index(name) + 1]


def test_every_scenario_at_every_count_ascending_the_count_an_argument():
    invs = plan(SWEEP)
    assert [(i.vmas, i.scenario.name, i.arm) for i in invs] == [
        (v, sc, "both") for v in (256, 1024, 4096) for sc in "ab"]
    assert [opt(i.args, "--vmas") for i in invs] == ["256", "256", "1024", "1024", "4096", "4096"]
    assert all(i.sweep for i in invs)
    assert [i.label for i in invs[:2]] == ["a @ 256 VMAs", "b @ 256 VMAs"]
    assert planned_forks(SWEEP, invs) == {f"{sc} @ {v} VMAs": 20 for v in (256, 1024, 4096) for sc in "ab"}


def test_one_count_plans_exactly_as_before():
    one = replace(SWEEP, vmas=1024)
    invs = plan(one)
    assert [(i.scenario.name, i.arm, i.vmas, i.sweep, i.label) for i in invs] == [
        ("a", "both", 1024, False, "a"), ("b", "both", 1024, False, "b")]
    assert invs[0].args == payload_args(one, SCENARIOS[0], "both")
    assert opt(invs[0].args, "--vmas") == "1024"
    assert planned_forks(one, invs) == {"a": 20, "b": 20}


def test_separate_mode_runs_each_count_in_abba_order():
    invs = plan(replace(SWEEP, vmas=(256, 1024), mode="separate"))
    assert [(i.vmas, i.scenario.name, i.batch, i.arm) for i in invs[:4]] == [
        (256, "a", 0, "named"), (256, "a", 0, "unnamed"), (256, "a", 1, "unnamed"), (256, "a", 1, "named")]
    assert {opt(i.args, "--vmas") for i in invs if i.vmas == 1024} == {"1024"}
    assert len(invs) == 2 * 2 * 4


def test_refusals_per_count_or_of_every_count():
    invs = plan(SWEEP, {(4096, "b", None), (None, "a", "named")})
    assert [(i.vmas, i.scenario.name, i.arm) for i in invs] == [
        (256, "a", "unnamed"), (256, "b", "both"), (1024, "a", "unnamed"), (1024, "b", "both"), (4096, "a", "unnamed")]


def test_map_count_for_the_largest_count():
    assert required_map_count(SWEEP) == 4096 + MAP_COUNT_MARGIN
    assert required_map_count(SWEEP, 256) == 256 + MAP_COUNT_MARGIN


def test_resume_per_count():
    done = {(256, "a", "unnamed"): {0: 5, 1: 5}, (256, "a", "named"): {0: 5, 1: 5},
            (1024, "a", "unnamed"): {0: 5}, (1024, "a", "named"): {0: 5}}
    left = resumed(plan(replace(SWEEP, vmas=(256, 1024), scenarios=SCENARIOS[:1])), SWEEP,
                   lambda v, sc, arm: done.get((v, sc, arm), {}))
    assert [(i.vmas, opt(i.args, "--vmas"), opt(i.args, "--first-batch")) for i in left] == [(1024, "1024", "1")]


def test_fit_refuses_only_the_counts_that_do_not_fit():
    # not root, vm.max_map_count 3000: 4096 VMAs cannot run, 256 and 1024 can
    out = check_fit(SWEEP, replace(FACTS, max_map_count=3000), DeviceConfig(), root=False)
    assert [(r.vmas, r.scenario, r.arm, r.kind) for r in out] == [
        (4096, "a", None, "map-count-too-low"), (4096, "b", None, "map-count-too-low")]
    assert "at 4096 VMAs needs vm.max_map_count >= 5120" in out[0].message
    assert [(i.vmas, i.scenario.name) for i in plan(SWEEP, {r.key for r in out})] == [
        (256, "a"), (256, "b"), (1024, "a"), (1024, "b")]
    # memory: 10 pages x 4096 VMAs do not fit in 100 MiB; the smaller counts do
    mem = check_fit(SWEEP, replace(FACTS, mem_available_kb=100_000), DeviceConfig(), root=True)
    assert [(r.vmas, r.scenario, r.kind) for r in mem] == [(4096, "b", "not-enough-memory")]
    # a kernel without the feature: the named arm of every count, once per scenario
    lacks = check_fit(SWEEP, replace(FACTS, kernel_config={"ANON_VMA_NAME": "n"}), DeviceConfig(), root=True)
    assert [(r.vmas, r.scenario, r.arm) for r in lacks] == [(None, "a", "named"), (None, "b", "named")]


def test_fit_of_one_count_refuses_the_scenario_as_before():
    out = check_fit(replace(SWEEP, vmas=4096), replace(FACTS, max_map_count=3000), DeviceConfig(), root=False)
    assert [(r.vmas, r.scenario) for r in out] == [(None, "a"), (None, "b")]
    assert "at 4096 VMAs" not in out[0].message and "(4096 VMAs + 1024 for the process)" in out[0].message
