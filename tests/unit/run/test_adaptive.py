from devbench.analysis import analyze
from devbench.run.adaptive import precisions, still_needed
from tests.simdata import make_results


def rounds(n: int, **kw) -> dict:
    """n adaptive rounds of 10 batches (the config's batches: one round)."""
    data = make_results(batches=10 * n, round_batches=10, **kw)
    data["run"]["config"]["benchmark"]["batches"] = 10
    return data


def test_precision_is_the_regression_ci_half_width_of_the_rounds_before_the_last():
    data = rounds(2, shifts={"unpopulated": 0.12, "1 page": 0.06, "10 pages": 0.0}, per_batch=50)
    prec = precisions(data, "phone")
    first = {**data, "samples": [s for s in data["samples"] if s["batch"] < 10]}
    for row in analyze(first).rows():  # the half-width is the first round's, not both rounds'
        assert prec[row.scenario].half_width_pct == (row.effect.ci_high_pct - row.effect.ci_low_pct) / 2
    assert all(p.forks == 1000 for p in prec.values())  # forks per arm so far: both rounds
    one = precisions(first, "phone")  # one round: never stops on precision (the stop is always followed by a round)
    assert all(p.half_width_pct is None for p in one.values())
    assert still_needed(one, list(one), 100.0, 5000) == {sc: "" for sc in one}


def test_precision_decides_the_stop():
    data = rounds(2, shifts={"unpopulated": 0.12, "1 page": 0.06, "10 pages": 0.0}, per_batch=50)
    prec = precisions(data, "phone")
    assert set(prec) == {"unpopulated", "1 page", "10 pages"}
    for p in prec.values():
        assert p.measure == "regression CI, rounds before the last" and p.forks == 1000 and 0 < p.half_width_pct < 5
    widest = max(p.half_width_pct for p in prec.values())
    why = still_needed(prec, list(prec), widest + 0.01, 5000)
    assert all(w.startswith("precision reached") for w in why.values())
    narrow = still_needed(prec, list(prec), 0.001, 5000)
    assert narrow == {sc: "" for sc in prec}  # another round for every scenario
    capped = still_needed(prec, list(prec), 0.001, 1000)
    assert all(w.startswith("cap reached: 1000 forks per arm") for w in capped.values())


def test_without_the_named_arm_the_unnamed_mean_is_made_precise():
    data = rounds(2, per_batch=25)
    data["samples"] = [s for s in data["samples"] if s["arm"] == "unnamed"]
    prec = precisions(data, "phone")
    assert all(p.measure.startswith("unnamed mean CI") and p.half_width_pct > 0 for p in prec.values())
    assert still_needed({}, ["x"], 1.0, 100) == {"x": ""}  # no data yet: a first round


def test_a_target_precision_reads_its_own_samples_only():
    alone = rounds(2, shifts={"1 page": 0.05}, per_batch=25, seed=3, target="a")
    farm = rounds(2, shifts={"1 page": 0.05}, per_batch=25, seed=3, target="a")
    other = rounds(2, shifts={"1 page": 0.4}, per_batch=25, seed=9, target="b")
    farm["targets"] += other["targets"]
    farm["samples"] = other["samples"][:7] + farm["samples"] + other["samples"][7:]  # interleaved as threads write
    assert precisions(farm, "a") == precisions(alone, "a")
    assert precisions(farm, "b") != precisions(farm, "a") and precisions(farm, "nobody") == {}
