"""devlab.sysctls: the kernel settings a lab device may write are put back at its stop, loudly
(a devbench run killed by SIGKILL cannot restore them; CI once started from such a leftover)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devlab import sysctls


def tree(tmp_path: Path, values: dict[str, str]) -> Path:
    for name, value in values.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(value + "\n")
    return tmp_path


def test_a_changed_setting_is_put_back_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tree(tmp_path, {"vm/max_map_count": "65530", "kernel/kptr_restrict": "0",
                           "kernel/perf_event_paranoid": "2"})
    before = sysctls.snapshot(root)
    assert before == {"vm/max_map_count": "65530", "kernel/kptr_restrict": "0", "kernel/perf_event_paranoid": "2"}
    (root / "vm/max_map_count").write_text("70001\n")  # a run killed before its restore
    said = sysctls.put_back(before, root, device="lab3")
    assert said == ["[lab] lab3: vm.max_map_count was 70001 at stop, 65530 at start: put back"]
    assert capsys.readouterr().err.strip() == said[0]
    assert (root / "vm/max_map_count").read_text().strip() == "65530"
    assert sysctls.put_back(before, root) == []  # nothing changed: nothing said


def test_a_missing_setting_is_left_out_and_an_unwritable_one_is_said(tmp_path: Path) -> None:
    root = tree(tmp_path, {"vm/max_map_count": "65530"})
    before = sysctls.snapshot(root)
    assert before == {"vm/max_map_count": "65530"}
    (root / "vm/max_map_count").unlink()
    (root / "vm/max_map_count").mkdir()  # reads and writes fail
    [line] = sysctls.put_back(before, root, device="lab1")
    assert line.startswith("[lab] lab1: vm.max_map_count: could not put back 65530: ")
