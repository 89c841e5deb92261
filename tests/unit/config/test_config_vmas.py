"""benchmark.vmas: one count as before, or a list of counts (a sweep); bad lists are one line each."""

import pytest

from devbench.config import load_config, parse_text
from devbench.errors import ConfigError, ConfigErrors

BASE = """targets:
  - {{name: here, local: {{}}}}
benchmark:
  vmas: {vmas}
  scenarios:
    - {{name: unpopulated, pages: 0}}
"""


def bench(vmas: str):
    return parse_text(BASE.format(vmas=vmas), "c.yaml").benchmark


def error(vmas: str) -> ConfigError:
    with pytest.raises((ConfigError, ConfigErrors)) as exc:
        bench(vmas)
    errors = exc.value.errors if isinstance(exc.value, ConfigErrors) else [exc.value]
    assert len(errors) == 1, [str(e) for e in errors]
    assert "\n" not in str(errors[0])
    return errors[0]


def test_one_count_is_as_before():
    b = bench("4096")
    assert b.vmas == 4096 and b.vma_counts == (4096,) and not b.sweep
    default = parse_text(BASE.format(vmas="X").replace("  vmas: X\n", ""), "c.yaml").benchmark
    assert default.vmas == 65536 and default.vma_counts == (65536,) and not default.sweep


def test_a_list_is_a_sweep_kept_ascending():
    b = bench("[65536, 1024, 16384, 4096]")
    assert b.vma_counts == (1024, 4096, 16384, 65536) and b.sweep
    one = bench("[4096]")
    assert one.vma_counts == (4096,) and not one.sweep  # one count in a list: no sweep to show


@pytest.mark.parametrize("vmas, where, words", [
    ("[]", (4, 9, "benchmark.vmas"), "non-empty list"),
    ("[1024, x]", (4, 16, "benchmark.vmas[1]"), "must be an integer VMA count, not a string 'x'"),
    ("[1024, 2.5]", (4, 16, "benchmark.vmas[1]"), "not a number 2.5"),
    ("[1024, true]", (4, 16, "benchmark.vmas[1]"), "not a boolean True"),
    ("[1024, 1024]", (4, 16, "benchmark.vmas[1]"), "duplicate VMA count 1024 (also vmas[0])"),
    ("[0, 1024]", (4, 10, "benchmark.vmas[0]"), "must be 1..10000000 (got 0)"),
    ("[1024, 10000001]", (4, 16, "benchmark.vmas[1]"), "must be 1..10000000 (got 10000001)"),
    ("many", (4, 9, "benchmark.vmas"), "must be an integer"),
])
def test_a_bad_count_names_file_line_and_field(vmas, where, words):
    e = error(vmas)
    assert (e.line, e.column, e.field) == where
    assert e.file == "c.yaml" and words in e.message
    assert str(e).startswith(f"c.yaml:{where[0]}:{where[1]}: {where[2]}: ")


def test_a_bad_count_in_a_block_list_names_its_own_line():
    e = error("\n    - 1024\n    - -5")
    assert (e.line, e.field) == (6, "benchmark.vmas[1]") and "got -5" in e.message


def test_too_many_counts():
    e = error(str(list(range(1, 34))))
    assert e.field == "benchmark.vmas" and "at most 32" in e.message


def test_a_sweep_from_the_command_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BASE.format(vmas="65536"))
    assert load_config(cfg, ["benchmark.vmas=[256,1024]"]).benchmark.vma_counts == (256, 1024)
    with pytest.raises((ConfigError, ConfigErrors)) as exc:
        load_config(cfg, ["benchmark.vmas=[256,256]"])
    assert str(exc.value).startswith("--set benchmark.vmas=[256,256]: benchmark.vmas[1]: duplicate VMA count 256")
