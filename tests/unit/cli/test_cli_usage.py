"""Usage errors name the right help: `devbench --help` for an unknown command, the command's
own for an unknown option (never "devbench devbench --help")."""

from __future__ import annotations

import pytest

from devbench.cli import main
from devbench.cli.parser import EXIT_USAGE


@pytest.mark.parametrize("argv,want", [
    (["frobnicate"], "(see devbench --help)"),
    (["run", "--bogus"], "unrecognized arguments: --bogus (see devbench run --help)"),
    (["check", "x.yaml", "--nope"], "unrecognized arguments: --nope (see devbench check --help)"),
])
def test_usage_errors_name_the_right_help(argv: list[str], want: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == EXIT_USAGE and want in err and "devbench devbench" not in err
    assert len(err.strip().splitlines()) == 1
