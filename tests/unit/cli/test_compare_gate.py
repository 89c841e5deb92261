"""compare --fail-on-regression: exit 3 exactly when a row's verdict (the analysis's own) is
"slower" with its CI above the threshold; each such row is named on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devbench.analysis import Comparison, Effect, Options, Row, Verdict, compare
from devbench.analysis.model import TargetPair
from devbench.cli import main
from devbench.cli.parser import EXIT_OK, EXIT_REGRESSION
from tests.simdata import make_results


def _runs(tmp_path: Path, scale: float) -> tuple[Path, Path, dict, dict]:
    a = make_results(seed=31)
    b = make_results(seed=32, scale=scale)
    out = []
    for name, data in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(data))
        out.append(tmp_path / name)
    return out[0], out[1], a, b


@pytest.mark.parametrize("scale,threshold", [(1.10, 2.0), (1.10, 50.0), (1.0, 2.0)])
def test_exit_follows_the_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scale: float, threshold: float
) -> None:
    dir_a, dir_b, a, b = _runs(tmp_path, scale)
    rows = [r for p in compare(a, b, Options()).pairs for r in p.rows]
    slower_above = [r for r in rows if r.verdict.kind == "slower" and r.effect and r.effect.ci_low_pct is not None
                    and r.effect.ci_low_pct > threshold]
    code = main(["compare", str(dir_a), str(dir_b), "--fail-on-regression", str(threshold)])
    err = capsys.readouterr().err
    assert code == (EXIT_REGRESSION if slower_above else EXIT_OK)
    assert err.count("devbench: regression:") == len(slower_above)
    for r in slower_above:
        assert f"/ {r.scenario} ({r.arm}):" in err
    assert main(["compare", str(dir_a), str(dir_b)]) == EXIT_OK  # no gate asked: never 3


def _row(scenario: str, arm: str, kind: str, low: float | None, high: float | None) -> Row:
    change = None if low is None or high is None else (low + high) / 2
    effect = Effect(change_pct=change, ci_low_pct=low, ci_high_pct=high, design="independent", unit="run", units=3,
                    test="welch", p=0.001, p_welch=None, p_mwu=None, cliffs_delta=None)
    return Row(target="phone", scenario=scenario, arm=arm, pages=0, base=None, other=None, effect=effect, p_holm=0.003,
               verdict=Verdict(label=kind, kind=kind, more_forks=None))


def test_gate_takes_the_verdict_as_the_analysis_gives_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Only "slower" rows count, and only with their CI's low end above the threshold."""
    from devbench.cli.reports import _compare_regressed

    rows = (_row("unpopulated", "named", "slower", 4.5, 9.0), _row("1 page", "named", "slower", 1.5, 3.0),
            _row("10 pages", "named", "inconclusive", 5.0, 20.0), _row("10 pages", "unnamed", "faster", -9.0, -4.0))
    cmp = Comparison(options=Options(), run_a={}, run_b={}, pairs=(TargetPair("phone", "phone", rows),), notes=())
    assert _compare_regressed(cmp, 2.0) is True
    err = capsys.readouterr().err
    assert (
        err.count("devbench: regression:") == 1 and "phone -> phone / unpopulated (named): B is +6.75% against A" in err
    )
    assert _compare_regressed(cmp, 1.0) is True and capsys.readouterr().err.count("devbench: regression:") == 2
    assert _compare_regressed(cmp, 5.0) is False and capsys.readouterr().err == ""
