"""A run folder's recorded config is obeyed only with this host's seal (devbench.results.seal)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from devbench.errors import ResultsError
from devbench.results.seal import host_key, seal_of, seal_run, verify
from devbench.results.store import new_results

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
CONFIG = {"run": {"name": "r"}, "targets": [{"name": "dut", "local": {"workdir": "/tmp/devbench"}}]}


def sealed_run() -> dict:
    run = new_results("id", "r", json.loads(json.dumps(CONFIG)), "/home/u/c.yaml")["run"]
    seal_run(run, KEY)
    return run


def test_a_sealed_config_verifies():
    verify(sealed_run(), KEY, "RUN/results.json")


@pytest.mark.parametrize("change", [
    lambda r: r["config"]["targets"][0]["local"].update(workdir="/."),  # the attack: root chmods /
    lambda r: r["config"].update(build={"cc": "/tmp/evil"}),
    lambda r: r.update(config_file="/elsewhere.yaml"),
])
def test_a_changed_config_is_refused_in_one_line(change):
    run = sealed_run()
    change(run)
    with pytest.raises(ResultsError) as err:
        verify(run, KEY, "RUN/results.json")
    text = str(err.value)
    assert "changed since devbench recorded it" in text and "give the run's YAML config instead" in text
    assert "\n" not in text and "RUN/results.json" in text


def test_an_unsealed_or_foreign_config_is_refused():
    run = sealed_run()
    with pytest.raises(ResultsError, match="sealed with another host's key"):
        verify(run, OTHER, "w")
    del run["config_seal"]
    with pytest.raises(ResultsError, match="not sealed by devbench on this host"):
        verify(run, KEY, "w")
    run["config_seal"] = {"alg": "none", "mac": ""}
    with pytest.raises(ResultsError, match="not sealed"):
        verify(run, KEY, "w")


def test_the_seal_does_not_depend_on_key_order():
    a = seal_of({"a": 1, "b": [1, {"c": 2, "d": 3}]}, "f", KEY)
    b = seal_of({"b": [1, {"d": 3, "c": 2}], "a": 1}, "f", KEY)
    assert a == b and a["alg"] == "hmac-sha256" and len(a["mac"]) == 64


def test_the_key_is_made_once_private_and_never_through_a_planted_link(tmp_path):
    folder = tmp_path / "cfg"
    k1 = host_key(folder)
    assert host_key(folder) == k1 and len(k1) == 32
    assert stat.S_IMODE((folder / "run-seal.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # a key readable by others is refused, not used
    os.chmod(folder / "run-seal.key", 0o644)
    with pytest.raises(ResultsError, match="private"):
        host_key(folder)
    # a planted symlink at the key's name is neither followed nor written through
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    canary = tmp_path / "canary"
    canary.write_text("canary\n")
    (other / "run-seal.key").symlink_to(canary)
    with pytest.raises(OSError):
        host_key(other)
    assert canary.read_text() == "canary\n"


def test_restore_refuses_a_run_folder_whose_config_was_changed(tmp_path, monkeypatch):
    """config_of (restore and --resume) on a run folder: sealed and unchanged is obeyed; changed is
    refused in one line before any target is opened."""
    from devbench.config import config_of
    from devbench.results.schema import read_results  # noqa: F401  (the run folder must pass the results check)

    monkeypatch.setenv("DEVBENCH_CONFIG_HOME", str(tmp_path / "keys"))
    cfg_text = ("run: {name: r}\ntargets:\n  - {name: dut, local: {}}\nbenchmark: {vmas: 64, forks: 4, batches: "
                "2, scenarios: [{name: u, pages: 0}]}\n")
    (tmp_path / "c.yaml").write_text(cfg_text)
    import yaml

    data = new_results("20261207-000000-r-abcd", "r", yaml.safe_load(cfg_text), str(tmp_path / "c.yaml"))
    data["run"]["status"] = "interrupted"
    seal_run(data["run"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(data))
    assert config_of(str(run_dir)).targets[0].name == "dut"
    data["run"]["config"]["targets"][0]["local"] = {"workdir": "/."}
    (run_dir / "results.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="changed since devbench recorded it"):
        config_of(str(run_dir))


@pytest.mark.parametrize("command", [["restore"], ["run", "--resume"]])
def test_cli_refuses_a_changed_run_folder_in_one_line_and_changes_nothing(tmp_path, devbench_cmd, command):
    """The issue's attack: a run folder's recorded config changed to a local target whose work
    folder is a canary (as `workdir: /.` would make root chmod /). restore and --resume refuse in
    one line; the canary's mode and the results file are as they were."""
    import subprocess

    import yaml

    canary = tmp_path / "canary"
    canary.mkdir(mode=0o751)
    os.chmod(canary, 0o751)
    cfg_text = (f"run: {{name: r, output: {tmp_path / 'out'}}}\ntargets:\n  - {{name: dut, local: {{}}}}\n"
                "benchmark: {vmas: 64, forks: 4, batches: 2, scenarios: [{name: u, pages: 0}]}\n")
    env = {**os.environ, "DEVBENCH_CONFIG_HOME": str(tmp_path / "keys")}
    monkey_home = os.environ.get("DEVBENCH_CONFIG_HOME")
    os.environ["DEVBENCH_CONFIG_HOME"] = env["DEVBENCH_CONFIG_HOME"]
    try:
        data = new_results("20261207-000000-r-abcd", "r", yaml.safe_load(cfg_text), str(tmp_path / "c.yaml"))
        seal_run(data["run"])
    finally:
        if monkey_home is not None:
            os.environ["DEVBENCH_CONFIG_HOME"] = monkey_home
    data["run"]["status"] = "interrupted"
    data["run"]["config"]["targets"][0]["local"] = {"workdir": str(canary)}
    run_dir = tmp_path / "out" / "20261207-000000-r-abcd"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(data))
    before = (run_dir / "results.json").read_bytes()
    res = subprocess.run([*devbench_cmd, *command, str(run_dir)], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode != 0, res.stdout + res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "changed since devbench recorded it" in lines[0], res.stderr
    assert "give the run's YAML config instead" in lines[0]
    assert stat.S_IMODE(canary.stat().st_mode) == 0o751 and list(canary.iterdir()) == []
    assert (run_dir / "results.json").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["results.json"]
