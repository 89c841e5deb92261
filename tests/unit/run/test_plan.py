import pytest

from devbench.config import BenchmarkConfig, Scenario
from devbench.run.plan import (
    ARMS,
    arm_order,
    batch_sizes,
    expected_forks,
    first_arms,
    invocation_batches,
    payload_args,
    plan,
    required_map_count,
    resumed,
)

BENCH = BenchmarkConfig(vmas=100, forks=10, batches=3, warmup=2, scenarios=(Scenario("a", 0), Scenario("b", 10)))


def test_interleaved_runs_one_process_per_scenario_with_both_arms():
    invs = plan(BENCH)
    assert [(i.scenario.name, i.arm) for i in invs] == [("a", "both"), ("b", "both")]
    args = invs[1].args
    assert args[args.index("--pages") + 1] == "10" and args[args.index("--arm") + 1] == "both"
    assert args[args.index("--forks") + 1] == "10" and args[args.index("--batches") + 1] == "3"
    assert "--shared-name" not in args
    assert invs[0].arms == ("unnamed", "named")


def test_separate_mode_runs_one_process_per_arm_and_batch_in_abba_order():
    invs = plan(BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate", "shared_name": True}))
    abba = ((0, "named"), (0, "unnamed"), (1, "unnamed"), (1, "named"), (2, "named"), (2, "unnamed"))
    baab = ((0, "unnamed"), (0, "named"), (1, "named"), (1, "unnamed"), (2, "unnamed"), (2, "named"))
    # the first scenario starts with named, the second with unnamed
    assert [(i.scenario.name, i.batch, i.arm) for i in invs] == [("a", b, arm) for b, arm in abba] + [
        ("b", b, arm) for b, arm in baab]
    assert all("--shared-name" in i.args for i in invs)
    assert invs[1].arms == ("unnamed",)
    # each process measures its own batch alone: its size (10 forks in 3 batches: 4, 3, 3) and its number
    opts = [dict(zip(i.args, i.args[1:], strict=False)) for i in invs[:6]]
    assert [(o["--forks"], o["--batches"], o.get("--first-batch")) for o in opts] == [
        ("4", "1", None), ("4", "1", None), ("6", "2", "1"), ("6", "2", "1"), ("9", "3", "2"), ("9", "3", "2")]
    assert [expected_forks(BENCH, i.args) for i in invs[:6]] == [4, 4, 3, 3, 3, 3]
    assert [batch_sizes(int(o["--forks"]), int(o["--batches"]))[int(o.get("--first-batch", 0))] for o in opts] == [
        4,
        4,
        3,
        3,
        3,
        3,
    ]


@pytest.mark.parametrize("batches", [1, 2, 3, 5, 7, 10, 11])
def test_arm_order_is_balanced_for_odd_and_even_batch_counts(batches):
    order = arm_order(batches)
    assert sorted(order) == sorted((b, arm) for b in range(batches) for arm in ARMS)  # each batch once per arm
    pos = {arm: [i for i, (_, a) in enumerate(order) if a == arm] for arm in ARMS}
    lead = {arm: sum(1 for b in range(batches) if order[2 * b][1] == arm) for arm in ARMS}
    assert all(abs(order[2 * b][0] - order[2 * b + 1][0]) == 0 for b in range(batches))  # a batch's arms side by side
    # a linear drift cancels; odd: one slot, the least possible
    assert abs(sum(pos["named"]) - sum(pos["unnamed"])) == (batches % 2)
    assert abs(lead["named"] - lead["unnamed"]) == batches % 2
    # resumed from batch 3, the order is the same as it would have been
    assert arm_order(batches, 3) == [x for x in order if x[0] >= 3]


def test_a_resumed_separate_run_redoes_only_the_processes_whose_batch_is_missing():
    bench = BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate"})
    invs = plan(bench)
    done = {("a", "named"): {0: 4, 1: 3}, ("a", "unnamed"): {0: 4, 1: 2}, ("b", "named"): {0: 4, 1: 3, 2: 3},
            ("b", "unnamed"): {0: 4, 1: 3, 2: 3}}
    todo = resumed(invs, bench, lambda v, sc, arm: done.get((sc, arm), {}))
    assert [(i.scenario.name, i.batch, i.arm) for i in todo] == [
        ("a", 1, "unnamed"),
        ("a", 2, "named"),
        ("a", 2, "unnamed"),
    ]
    assert todo[0].args == invs[2].args


def test_batch_split_matches_the_payload():
    assert batch_sizes(10, 3) == [4, 3, 3]
    assert batch_sizes(1000, 10) == [100] * 10
    assert sum(batch_sizes(997, 7)) == 997


def test_resource_needs_are_computed():
    assert required_map_count(BENCH) == 100 + 1024


def test_refused_scenarios_and_arms_are_left_out_of_the_plan():
    invs = plan(BENCH, refused={(None, "a", None), (None, "b", "named")})
    assert [(i.scenario.name, i.arm) for i in invs] == [("b", "unnamed")]
    assert invs[0].args[invs[0].args.index("--arm") + 1] == "unnamed"
    sep = plan(BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate"}), refused={(None, "a", "named")})
    assert [(i.scenario.name, i.arm) for i in sep][:4] == [("a", "unnamed")] * 3 + [("b", "unnamed")]


def test_the_first_arm_alternates_over_the_scenarios_and_reaches_the_payload():
    bench = BenchmarkConfig(**{**BENCH.__dict__, "scenarios": (Scenario("a", 0), Scenario("b", 1), Scenario("c", 2))})
    assert first_arms(bench) == {"a": "named", "b": "unnamed", "c": "named"}
    assert ["--unnamed-first" in i.args for i in plan(bench)] == [False, True, False]
    assert "--unnamed-first" in resumed(plan(bench), bench, lambda vmas, sc, arm: {0: 4})[1].args  # kept on resume
    assert arm_order(3, start="unnamed") == [(0, "unnamed"), (0, "named"), (1, "named"), (1, "unnamed"),
                                             (2, "unnamed"), (2, "named")]


def test_placebo_is_passed_to_the_payload():
    assert "--placebo" not in payload_args(BENCH, BENCH.scenarios[0], "both")
    aa = BenchmarkConfig(**{**BENCH.__dict__, "placebo": True})
    assert payload_args(aa, aa.scenarios[0], "both")[-1] == "--placebo"


def test_an_invocation_counts_its_own_batches():
    sep = plan(BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate"}))
    assert [invocation_batches(BENCH, i.args) for i in sep[:6]] == [1] * 6  # one batch per separate process
    [inter, _] = plan(BENCH)
    assert invocation_batches(BENCH, inter.args) == 3
    assert invocation_batches(BENCH, payload_args(BENCH, BENCH.scenarios[0], "both", 2)) == 1  # resumed from batch 2
