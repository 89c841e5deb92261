"""--set KEY.PATH=VALUE (devbench/config/overrides.py): checked like the file, errors name the override."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.config import load_config
from devbench.config.overrides import parse_override
from devbench.errors import ConfigError

CONFIG = """targets: [{name: here, local: {}}]
benchmark:
  forks: 100
  batches: 10
  scenarios: [{name: a, pages: 0}, {name: b, pages: 1}]
"""


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    return path


def test_values_are_yaml_and_land_where_the_path_says(cfg_file: Path) -> None:
    cfg = load_config(cfg_file, ["benchmark.forks=200", "benchmark.scenarios[1].pages=10", "device.pin=[0, 1]",
                                 "benchmark.shared_name=true", "run.name=ci nightly"])
    assert cfg.benchmark.forks == 200 and cfg.benchmark.scenarios[1].pages == 10 and cfg.device.pin == (0, 1)
    assert cfg.benchmark.shared_name is True and cfg.run.name == "ci nightly"
    assert cfg.raw["benchmark"]["forks"] == 200  # what results.json records is what ran


def test_later_override_wins_and_auto_switches_modes(cfg_file: Path) -> None:
    cfg = load_config(cfg_file, ["benchmark.forks=300", "benchmark.forks=auto"])
    assert cfg.benchmark.adaptive is not None


@pytest.mark.parametrize("override,field,message", [
    ("benchmark.forks=abc", "benchmark.forks", "must be an integer"),
    ("benchmark.forkz=1", "benchmark.forkz", "did you mean 'forks'"),
    ("benchmark.batches=5000", "benchmark.batches", "must not exceed forks (100)"),
    ("benchmark.scenarios[5].pages=1", "benchmark.scenarios[5]", "no item 5 (the list has 2)"),
    ("benchmark.forks.x=1", "benchmark.forks", "is not a mapping"),
    ("targets[0].local.workdir=../x", "targets[0].local.workdir", "must be an absolute path"),
    ("benchmark.forks=!!python/object/apply:os.system [id]", "benchmark.forks", "unsupported YAML tag"),
])
def test_errors_name_the_override(cfg_file: Path, override: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(cfg_file, [override])
    assert e.value.file == f"--set {override}" and e.value.field == field and message in e.value.message
    assert str(e.value).startswith(f"--set {override}: {field}: ")


def test_an_error_in_a_field_of_the_file_names_the_file(cfg_file: Path) -> None:
    cfg_file.write_text(CONFIG.replace("batches: 10", "batches: 1000"))
    with pytest.raises(ConfigError) as e:
        load_config(cfg_file, ["benchmark.warmup=1"])
    assert e.value.file == str(cfg_file) and e.value.line == 4 and e.value.field == "benchmark.batches"


@pytest.mark.parametrize("text", ["forks", "=1", "a..b=1", "a b=1", "x[=1", "benchmark.forks="])
def test_malformed_overrides(text: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_override(text)
    assert e.value.file == f"--set {text}"


def test_parse_paths() -> None:
    assert parse_override("targets[2].adb.serial=R58").path == ("targets", 2, "adb", "serial")
    assert parse_override("targets[2].adb.serial=R58").value == "R58"
    assert parse_override("device.cpufreq.khz=0.8").value == 0.8
