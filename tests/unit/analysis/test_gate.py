"""The CI gate on fork() and, when asked (--gate-exit), on the child's exit (exit_ns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devbench.analysis import analyze, gate
from devbench.cli import main
from devbench.cli.parser import EXIT_OK, EXIT_REGRESSION
from tests.simdata import make_results

ONE = (("unpopulated", 0, 16.0),)


def test_the_exit_metric_is_gated_only_when_asked():
    d = make_results(shifts={"unpopulated": 0.0}, exit_shifts={"unpopulated": 0.20}, scenarios=ONE, seed=5)
    a = analyze(d)
    assert gate(a, 5.0) == []
    [line] = gate(a, 5.0, ("fork", "exit"))
    assert line.startswith("phone / unpopulated (exit): regression +")


def test_report_gate_exit_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    d = make_results(shifts={"unpopulated": 0.0}, exit_shifts={"unpopulated": 0.20}, scenarios=ONE, seed=5)
    (tmp_path / "results.json").write_text(json.dumps(d))
    assert main(["report", str(tmp_path), "--format", "text", "--fail-on-regression", "5"]) == EXIT_OK
    capsys.readouterr()
    assert (
        main(["report", str(tmp_path), "--format", "text", "--fail-on-regression", "5", "--gate-exit"])
        == EXIT_REGRESSION
    )
    assert "devbench: regression: phone / unpopulated (exit): regression +" in capsys.readouterr().err


def test_compare_gate_exit_with_runs_a_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    sides = {}
    for side, shift in (("a", 0.0), ("b", 0.25)):
        sides[side] = []
        for i in range(3):
            p = tmp_path / f"{side}{i}"
            p.mkdir()
            data = make_results(
                scenarios=ONE, seed=100 * (side == "b") + i, run_sd=0.01, exit_shifts={"unpopulated": shift}
            )
            if side == "b":  # the exit of both arms is slower in B: shift the unnamed arm's exit as well
                for s in data["samples"]:
                    s["exit_ns"] = [int(v * (1 + shift)) if s["arm"] == "unnamed" else v for v in s["exit_ns"]]
            (p / "results.json").write_text(json.dumps(data))
            sides[side].append(str(p))
    argv = ["compare", *sides["a"], "--against", *sides["b"], "--output", str(tmp_path), "--fail-on-regression", "5"]
    assert main(argv) == EXIT_OK
    capsys.readouterr()
    assert main([*argv, "--gate-exit"]) == EXIT_REGRESSION
    err = capsys.readouterr().err
    assert "/ unpopulated (named, exit): regression +" in err and "/ unpopulated (unnamed, exit): regression +" in err
