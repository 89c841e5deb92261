import subprocess

import pytest

from tests.unit.config.test_config import SEED


def run_cli(cmd, *args, cwd=None):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("edit,where", [
    (("  forks: 1000", "  forkz: 1000"), ":10:3: benchmark.forkz:"),
    (("vmas: 65536", "vmas: {a: 1}"), ":8:9: benchmark.vmas:"),
    (("vmas: 65536", "vmas: [1024, 1024]"), ":8:16: benchmark.vmas[1]:"),
    (("name_length: 79", "name_length: 80"), ":9:16: benchmark.name_length:"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, devbench_cmd, edit, where):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(SEED.replace(*edit))
    res = run_cli(devbench_cmd, "run", str(cfg))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) + where in lines[0] and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_usage_errors_exit_2(devbench_cmd, tmp_path):
    res = run_cli(devbench_cmd, "run", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "no such file" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli(devbench_cmd, "frobnicate")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli(devbench_cmd, "report", str(tmp_path))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_unknown_target_selection(devbench_cmd, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SEED)
    res = run_cli(devbench_cmd, "run", str(cfg), "--target", "nope")
    assert res.returncode == 2 and "no target named 'nope'" in res.stderr


def test_several_config_errors_all_reported_in_file_order(tmp_path, devbench_cmd):
    """As a linter does: every error (each section's, each target's, every unknown key), in the
    file's order, one file:line:column line each."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("bogus: 1\n" + SEED.replace("  forks: 1000", "  forkz: 1000").replace("port: 22", "port: 99999")
                   .replace("  - {name: here, local: {}}", "  - {name: here, local: {}, colour: red}")
                   .replace("max_map_count: 262144", "max_map_count: -3"))
    res = run_cli(devbench_cmd, "check", str(cfg))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert [ln.split(str(cfg), 1)[1].split(" ", 2)[:2] for ln in lines] == [
        [":1:1:", "bogus:"], [":5:49:", "targets[1].ssh.port:"], [":6:29:", "targets[2].colour:"],
        [":7:95:", "device.max_map_count:"], [":11:3:", "benchmark.forkz:"]]
    assert all(ln.startswith(f"devbench: {cfg}:") for ln in lines)


def test_device_strings_reach_the_terminal_escaped(tmp_path, devbench_cmd):
    """A results file's device strings (a model, a target's warning, an error) printed by the CLI:
    an escape sequence comes out written as \\x1b, never as the byte."""
    import json

    from tests.simdata import make_results

    evil = "\x1b]0;pwned\x07\x1b[2J"
    d = make_results(seed=3, target="phone", model=evil)
    d["targets"][0]["warnings"] = [f"thermal zone {evil} hot"]
    d["errors"].append({"target": "phone", "scenario": "1 page", "arm": None, "kind": "device-error",
                        "message": f"payload said {evil}"})
    (tmp_path / "results.json").write_text(json.dumps(d))
    for fmt in ("text", "markdown"):
        res = run_cli(devbench_cmd, "report", str(tmp_path), "--format", fmt)
        assert res.returncode == 0, res.stderr
        assert "\x1b" not in res.stdout + res.stderr and "\x07" not in res.stdout
        assert "thermal zone \\x1b]0;pwned\\x07\\x1b[2J hot" in res.stdout
        assert "payload said \\x1b]0;pwned" in res.stdout


def test_warning_and_progress_lines_escape_device_strings(capsys):
    """What a run prints on stderr as it goes: a target's warning and its progress lines."""
    import io

    from devbench.cli.run import _print_warning
    from devbench.run.progress import LineProgress

    evil = "\x1b]0;pwned\x07\x1b[2J"
    _print_warning("phone", f"model {evil}")
    out = io.StringIO()
    LineProgress(out).target_done("phone", False, f"device said {evil}")
    err = capsys.readouterr().err
    assert err == "devbench: warning: phone: model \\x1b]0;pwned\\x07\\x1b[2J\n"
    assert out.getvalue() == "[phone] FAILED: device said \\x1b]0;pwned\\x07\\x1b[2J\n"
