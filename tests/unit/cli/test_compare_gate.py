"""--fail-on-regression: one rule for run, report and compare (devbench.analysis.gate): exit 3
when a row's change is shown above the threshold (its CI above it, Holm-adjusted against the
threshold); exit 5, said on stderr, when the gate could not test a row, unless
--allow-inconclusive; each row is named on stderr."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from devbench.analysis import Comparison, Effect, Options, Row, Verdict, analyze, compare
from devbench.analysis.gate import gate_rows, run_gate
from devbench.analysis.model import TargetPair
from devbench.cli import main
from devbench.cli.parser import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from tests.simdata import make_results


def _runs(tmp_path: Path, scale: float, per_side: int = 1) -> tuple[list[str], list[str]]:
    sides: tuple[list[str], list[str]] = ([], [])
    for side, factor in ((0, 1.0), (1, scale)):
        for i in range(per_side):
            p = tmp_path / f"{'ab'[side]}{i}"
            p.mkdir()
            (p / "results.json").write_text(json.dumps(make_results(seed=31 + 10 * side + i, scale=factor,
                                                                    run_sd=0.002)))
            sides[side].append(str(p))
    return sides


def test_one_run_a_side_cannot_be_decided_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [a], [b] = _runs(tmp_path, 1.10)
    assert main(["compare", a, b, "--fail-on-regression", "0"]) == EXIT_INCONCLUSIVE
    err = capsys.readouterr().err
    assert "devbench: gate cannot decide: phone / unpopulated (named): no verdict: 1 run(s) of A and 1 of B" in err
    assert "devbench: gate: 6 rows not tested against 0%: exit 5 (--allow-inconclusive to pass them)" in err
    assert main(["compare", a, b, "--fail-on-regression", "0", "--allow-inconclusive"]) == EXIT_OK
    assert "(--allow-inconclusive: passed)" in capsys.readouterr().err
    assert main(["compare", a, b]) == EXIT_OK  # no gate asked: never 3 or 5


@pytest.mark.parametrize("scale,threshold", [(1.10, "2%"), (1.10, "50"), (1.0, "2")])
def test_compare_exit_follows_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str], scale: float,
                                       threshold: str) -> None:
    a, b = _runs(tmp_path, scale, per_side=3)
    cmp = compare([json.loads(Path(p, "results.json").read_text()) for p in a],
                  [json.loads(Path(p, "results.json").read_text()) for p in b], Options())
    failing = run_gate(cmp, float(threshold.rstrip("%"))).failing
    code = main(["compare", *a, "--against", *b, "--fail-on-regression", threshold])
    err = capsys.readouterr().err
    assert code == (EXIT_REGRESSION if failing else EXIT_OK)
    assert err.count("devbench: regression:") == len(failing) and (scale == 1.0 or threshold == "50" or failing)
    for r in failing:
        assert f"/ {r.scenario} ({r.arm}): regression +" in err


def _row(scenario: str, arm: str | None, kind: str, low: float | None, high: float | None,
         se: float | None = None) -> Row:
    change = None if low is None or high is None else (low + high) / 2
    effect = Effect(change_pct=change, ci_low_pct=low, ci_high_pct=high, design="independent", unit="run", units=3,
                    test="welch", p=0.001, p_welch=None, p_mwu=None, cliffs_delta=None, se_log=se,
                    df=None if se is None else 9.0)
    return Row(target="phone", scenario=scenario, arm=arm, pages=0, base=None, other=None, effect=effect, p_holm=0.003,
               verdict=Verdict(label=kind, kind=kind, more_forks=None))


def test_rows_fail_on_their_ci_whatever_their_verdict() -> None:
    """One rule: the CI above the threshold (a "slower, within ±1%" row gated at 0.5 fails as well)."""
    rows = (_row("unpopulated", "named", "slower", 4.5, 9.0), _row("1 page", "named", "slower, within ±1%", 0.6, 0.9),
            _row("10 pages", "named", "inconclusive", -5.0, 20.0), _row("10 pages", "unnamed", "faster", -9.0, -4.0))
    assert [r.scenario for r in gate_rows(rows, 2.0).failing] == ["unpopulated"]
    assert [r.scenario for r in gate_rows(rows, 0.5).failing] == ["unpopulated", "1 page"]
    assert gate_rows(rows, 5.0).failing == () and gate_rows(rows, 5.0).decided


def test_holm_is_against_the_threshold() -> None:
    """Three rows each just clear of the threshold alone (one-sided p 0.02, under 0.025) are not,
    together: Holm's smallest adjusted p is 3 x 0.02. (Adjusted against zero, all three failed.)"""
    se, t98 = 0.01, 2.398  # t(0.98, 9 df)
    rows = [_row(s, None, "slower", 1.0, 9.0, se) for s in ("a", "b", "c")]
    rows = [Row(**{**r.__dict__, "effect": Effect(**{**r.effect.__dict__, "change_pct": 5.0})}) for r in rows]
    threshold = math.expm1(math.log1p(0.05) - t98 * se) * 100
    assert len(gate_rows(rows[:1], threshold).failing) == 1
    assert gate_rows(rows, threshold).failing == ()


def test_report_and_compare_apply_one_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_results(shifts={"unpopulated": 0.10, "1 page": 0.0, "10 pages": 0.0}, seed=4)
    (tmp_path / "results.json").write_text(json.dumps(d))
    assert main(["report", str(tmp_path), "--format", "text", "--fail-on-regression", "5%"]) == EXIT_REGRESSION
    assert "phone / unpopulated: regression +" in capsys.readouterr().err
    a = analyze(d)
    cmp = Comparison(a.options, {}, {}, (TargetPair("phone", "phone", a.target("phone").rows),), ())
    assert run_gate(cmp, 5.0).failing == run_gate(a, 5.0).failing != ()


def test_a_run_with_too_few_batches_cannot_pass_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "results.json").write_text(json.dumps(make_results(batches=3, seed=6)))
    assert main(["report", str(tmp_path), "--format", "json", "--fail-on-regression", "1"]) == EXIT_INCONCLUSIVE
    out, err = capsys.readouterr()
    assert json.loads(out)["gate"]["undecided"][0]["why"].startswith("no verdict: only 3 paired batches")
    assert "devbench: gate cannot decide: phone / unpopulated: no verdict: only 3 paired batches" in err


def test_percent_sign_is_accepted_and_nonsense_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from devbench.cli.parser import percent

    assert percent("5%") == percent("5") == 5.0 and percent(" 0.5% ") == 0.5
    with pytest.raises(SystemExit) as exc:
        main(["report", ".", "--fail-on-regression", "five"])
    assert exc.value.code == 2 and "not a percentage: 'five'" in capsys.readouterr().err


def test_a_gate_with_nothing_to_test_does_not_pass_in_silence(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A results file with no timed fork (every arm refused before measuring): no row at all."""
    d = make_results(seed=9)
    d["samples"] = []
    (tmp_path / "results.json").write_text(json.dumps(d))
    assert run_gate(analyze(d), 1.0).gated == 0 and not run_gate(analyze(d), 1.0).decided
    assert main(["report", str(tmp_path), "--format", "json", "--fail-on-regression", "1%"]) == EXIT_INCONCLUSIVE
    out, err = capsys.readouterr()
    assert "devbench: gate cannot decide: no row to test" in err
    assert "devbench: gate: nothing tested against 1%: exit 5 (--allow-inconclusive to pass)" in err
    assert json.loads(out)["gate"]["rows_tested"] == 0
    assert main(["report", str(tmp_path), "--format", "text", "--fail-on-regression", "1",
                 "--allow-inconclusive"]) == EXIT_OK
    assert "nothing tested against 1% (--allow-inconclusive: passed)" in capsys.readouterr().err


def test_the_json_gate_is_the_exit_code_s_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--gate-exit: the JSON's gate looks at the exit rows as the exit code does."""
    d = make_results(shifts={"unpopulated": 0.10, "1 page": 0.0, "10 pages": 0.0}, seed=4)
    (tmp_path / "results.json").write_text(json.dumps(d))
    main(["report", str(tmp_path), "--format", "json", "--fail-on-regression", "5", "--gate-exit"])
    gate = json.loads(capsys.readouterr().out)["gate"]
    assert gate["metrics"] == ["fork", "exit"]
    assert gate["rows_tested"] == len(analyze(d).rows()) + len(analyze(d).exit_rows())
    named = {"target": "phone", "vmas": 65536, "scenario": "unpopulated", "metric": "fork"}
    assert any(named.items() <= row.items() for row in gate["failing"]), gate["failing"]


@pytest.mark.parametrize("text", ["nan", "inf", "1e999%", "%"])
def test_a_threshold_that_is_no_number_is_refused(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", ".", "--fail-on-regression", text])
    assert exc.value.code == 2 and f"not a percentage: {text!r}" in capsys.readouterr().err
