from devbench.config import BenchmarkConfig, Scenario
from devbench.plan import batch_sizes, payload_args, plan, required_map_count

BENCH = BenchmarkConfig(vmas=100, forks=10, batches=3, warmup=2, scenarios=(Scenario("a", 0), Scenario("b", 10)))


def test_interleaved_runs_one_process_per_scenario_with_both_arms():
    invs = plan(BENCH)
    assert [(i.scenario.name, i.arm) for i in invs] == [("a", "both"), ("b", "both")]
    args = invs[1].args
    assert args[args.index("--pages") + 1] == "10" and args[args.index("--arm") + 1] == "both"
    assert args[args.index("--forks") + 1] == "10" and args[args.index("--batches") + 1] == "3"
    assert "--shared-name" not in args
    assert invs[0].arms == ("unnamed", "named")


def test_separate_mode_runs_one_process_per_arm_unnamed_first():
    invs = plan(BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate", "shared_name": True}))
    assert [(i.scenario.name, i.arm) for i in invs] == [("a", "unnamed"), ("a", "named"), ("b", "unnamed"), ("b", "named")]
    assert all("--shared-name" in i.args for i in invs)
    assert invs[1].arms == ("named",)


def test_batch_split_matches_the_payload():
    assert batch_sizes(10, 3) == [4, 3, 3]
    assert batch_sizes(1000, 10) == [100] * 10
    assert sum(batch_sizes(997, 7)) == 997


def test_resource_needs_are_computed():
    assert required_map_count(BENCH) == 100 + 1024


def test_refused_scenarios_and_arms_are_left_out_of_the_plan():
    invs = plan(BENCH, refused={("a", None), ("b", "named")})
    assert [(i.scenario.name, i.arm) for i in invs] == [("b", "unnamed")]
    assert invs[0].args[invs[0].args.index("--arm") + 1] == "unnamed"
    sep = plan(BenchmarkConfig(**{**BENCH.__dict__, "mode": "separate"}), refused={("a", "named")})
    assert [(i.scenario.name, i.arm) for i in sep] == [("a", "unnamed"), ("b", "unnamed"), ("b", "named")]


def test_placebo_is_passed_to_the_payload():
    assert "--placebo" not in payload_args(BENCH, BENCH.scenarios[0], "both")
    aa = BenchmarkConfig(**{**BENCH.__dict__, "placebo": True})
    assert payload_args(aa, aa.scenarios[0], "both")[-1] == "--placebo"
