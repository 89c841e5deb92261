"""Calibration on simulated runs with the real payload's shape (10 batches of 100 forks per arm,
lognormal fork times, batch-to-batch variation): on A/A data about 5% of rows may be called
slower or faster at alpha 0.05, and a real +5% must be found. `pytest -s` prints the figures."""

from devbench.analysis import Options, analyze
from tests.simdata import make_results

TRIALS = 200
OPTIONS = Options(resamples=1000)  # fewer resamples than the report's 9999, to keep this fast
ONE = (("s", 0, 16.36),)


def rates(shift: float, mode: str = "interleaved", seed0: int = 10_000) -> dict[str, float]:
    called = covered = welch = 0
    for i in range(TRIALS):
        [row] = analyze(make_results(shifts={"s": shift}, scenarios=ONE, mode=mode, seed=seed0 + i), OPTIONS).rows()
        e = row.effect
        called += row.verdict.kind in ("slower", "faster")
        covered += e.ci_low_pct <= shift * 100 <= e.ci_high_pct
        welch += e.p_welch < OPTIONS.alpha
    return {"called": called / TRIALS, "coverage": covered / TRIALS, "welch_forks": welch / TRIALS}


def test_aa_false_positive_rate_is_near_alpha_and_a_real_shift_is_found():
    aa = rates(0.0)
    aa_sep = rates(0.0, mode="separate", seed0=20_000)
    shift5 = rates(0.05, seed0=30_000)
    shift1 = rates(0.01, seed0=40_000)
    print(f"\nA/A interleaved ({TRIALS} runs): called significant {aa['called']:.1%} (alpha 5%), "
          f"95% CI covers 0 in {aa['coverage']:.1%}; Welch on single forks would say {aa['welch_forks']:.1%}")
    print(f"A/A separate ({TRIALS} runs): called significant {aa_sep['called']:.1%}, CI coverage {aa_sep['coverage']:.1%}")
    print(f"+5% injected: detected {shift5['called']:.1%}; +1%: detected {shift1['called']:.1%}; "
          f"CI coverage of the true shift {shift5['coverage']:.1%} / {shift1['coverage']:.1%}")
    assert 0.01 <= aa["called"] <= 0.10
    assert 0.01 <= aa_sep["called"] <= 0.10
    assert 0.88 <= aa["coverage"] <= 0.99 and 0.88 <= shift5["coverage"] <= 0.99
    assert shift5["called"] >= 0.95
    assert shift1["called"] > aa["called"]
