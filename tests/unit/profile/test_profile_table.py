"""devbench.profile.table against fixed counts, worked by hand."""

import json
import math
from collections import Counter

import pytest

from devbench.profile.folded import parse_perf_script
from devbench.profile.table import diff_symbols, symbol_counts, top_symbols, two_proportion_z
from tests.unit.profile.profile_texts import PERF_SCRIPT

UNNAMED = Counter({"fb;fork;copy_process;dup_mmap;vm_area_dup": 60, "fb;fork;copy_process;dup_mmap": 40})
NAMED = Counter({"fb;fork;copy_process;dup_mmap;vm_area_dup": 50, "fb;fork;copy_process;dup_mmap": 30,
                 "fb;fork;copy_process;dup_mmap;vm_area_dup;anon_vma_name_get": 20})


def test_self_and_inclusive_count_recursion_once_and_skip_the_process_root():
    c = symbol_counts(Counter({"p;f;g;f": 3, "p;f": 1, "p;h": 2}))
    assert c.total == 6
    assert c.leaf == {"f": 4, "h": 2}
    assert c.inclusive == {"f": 4, "g": 3, "h": 2}
    assert "p" not in c.inclusive
    assert symbol_counts(Counter({"p;f": 1}), skip_root=False).inclusive == {"p": 1, "f": 1}


def test_top_symbols_shares_and_order():
    t = top_symbols(NAMED, arm="named", top=3)
    assert (t.arm, t.samples, t.sort_by) == ("named", 100, "self")
    assert [(r.symbol, r.self_samples, r.inclusive_samples) for r in t.rows] == [
        ("vm_area_dup", 50, 70), ("dup_mmap", 30, 100), ("anon_vma_name_get", 20, 20)]
    assert t.rows[0].self_pct == pytest.approx(50.0) and t.rows[0].inclusive_pct == pytest.approx(70.0)
    t = top_symbols(NAMED, sort_by="inclusive")
    # ties on inclusive samples go to the larger self count, then to the name
    assert [r.symbol for r in t.rows] == ["dup_mmap", "copy_process", "fork", "vm_area_dup", "anon_vma_name_get"]
    assert (t.rows[0].self_pct, t.rows[1].self_pct, t.rows[1].inclusive_pct) == (30.0, 0.0, 100.0)


def test_two_proportion_z_fixed_numbers():
    # p = 110/200 = .55; se = sqrt(.55 * .45 * (1/100 + 1/100)) = .0703562; (.5 - .6) / se
    assert two_proportion_z(60, 100, 50, 100) == pytest.approx(-1.421338, abs=1e-6)
    # p = .1; se = sqrt(.1 * .9 * .02) = .0424264; .2 / se
    assert two_proportion_z(0, 100, 20, 100) == pytest.approx(4.714045, abs=1e-6)
    assert two_proportion_z(0, 100, 0, 50) == 0.0 and two_proportion_z(10, 10, 5, 5) == 0.0
    assert math.isnan(two_proportion_z(0, 0, 1, 10))


def test_diff_table_ranks_by_change_of_inclusive_share():
    d = diff_symbols(UNNAMED, NAMED)
    assert (d.base_arm, d.new_arm, d.base_samples, d.new_samples) == ("unnamed", "named", 100, 100)
    by = {r.symbol: r for r in d.rows}
    assert [r.symbol for r in d.rows][:2] == ["anon_vma_name_get", "vm_area_dup"]
    a = by["anon_vma_name_get"]
    assert (a.base_inclusive_samples, a.new_inclusive_samples, a.delta_inclusive_pct) == (0, 20, pytest.approx(20.0))
    assert a.z_inclusive == pytest.approx(4.714045, abs=1e-6)
    v = by["vm_area_dup"]
    assert (v.base_self_samples, v.new_self_samples) == (60, 50)
    assert v.delta_self_pct == pytest.approx(-10.0) and v.z_self == pytest.approx(-1.421338, abs=1e-6)
    assert v.delta_inclusive_pct == pytest.approx(10.0)  # 60% -> 70%: its callee's time counts under it
    assert by["copy_process"].delta_inclusive_pct == 0.0 and by["copy_process"].z_inclusive == 0.0


def test_diff_table_other_keys_top_and_json():
    d = diff_symbols(UNNAMED, NAMED, sort_by="self", top=2)
    assert [r.symbol for r in d.rows] == ["anon_vma_name_get", "dup_mmap"]  # |+20| then |-10| (tie: name)
    assert [r.symbol for r in diff_symbols(UNNAMED, NAMED, sort_by="z_self", top=1).rows] == ["anon_vma_name_get"]
    j = diff_symbols(Counter(), NAMED).to_json()
    json.dumps(j, allow_nan=False)       # an arm with no samples: NaN shares become null
    assert j["rows"][0]["base_inclusive_pct"] is None and j["base_samples"] == 0


def test_tables_from_a_parsed_perf_script():
    folded = parse_perf_script(PERF_SCRIPT).stacks
    t = top_symbols(folded, sort_by="inclusive", top=4)
    assert [(r.symbol, r.inclusive_samples) for r in t.rows] == [
        ("do_syscall_64", 7), ("entry_SYSCALL_64_after_hwframe", 7), ("main", 5), ("[unknown]", 4)]
    assert t.rows[3].self_samples == 2  # two unknown leaves, two unknown libc callers of exit
    assert top_symbols(folded).rows[0].symbol == "[unknown]"  # 2 leaves; unknowns are counted, not hidden
