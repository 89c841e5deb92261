"""Will the scenarios fit on a device: refusals with their numbers (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from devbench.config import BenchmarkConfig, DeviceConfig, Scenario
from devbench.device.fit import HEADROOM, NO_ANON_VMA_NAME, VMA_KERNEL_BYTES, Refusal, check_fit, memory_needed
from devbench.device.probe import Facts
from devbench.run.plan import MAP_COUNT_MARGIN

BENCH = BenchmarkConfig(vmas=1000, scenarios=(Scenario("empty", 0), Scenario("ten", 10)))
NEED_MAPS = 1000 + MAP_COUNT_MARGIN

FACTS = Facts(abi="x86_64", machine="x86_64", kernel_release="6.1", kernel_build="#1", android=False, android_sdk=None,
              model=None, root=True, cpus=8, cpus_online="0-7", mem_total_kb=8_000_000, mem_available_kb=6_000_000,
              max_map_count=65530, page_size=4096, kernel_config={"ANON_VMA_NAME": "y"})


def facts(**kw) -> Facts:
    return replace(FACTS, **kw)


def kinds(refusals: list[Refusal]) -> list[tuple[str, str | None, str]]:
    return [(r.scenario, r.arm, r.kind) for r in refusals]


def test_fits():
    assert check_fit(BENCH, FACTS, DeviceConfig(), root=True) == []
    assert check_fit(BENCH, FACTS, DeviceConfig(), root=False) == []


def test_memory_needed_exact_for_a_small_case():
    bench = BenchmarkConfig(vmas=1000)
    # 40960000 data + 2 x (22 page-table pages + 1000 VMA structures)
    assert memory_needed(bench, Scenario("ten", 10), 4096) == 40_960_000 + 2 * (22 * 4096 + 1000 * VMA_KERNEL_BYTES)
    assert memory_needed(bench, Scenario("empty", 0), 4096) == 2 * 1000 * VMA_KERNEL_BYTES


def test_memory_needed_grows_with_pages_and_exceeds_the_data():
    bench = BenchmarkConfig(vmas=4096)
    last = -1
    for pages in (0, 1, 2, 8, 64, 512, 4096):
        for page_size in (4096, 16384):
            need = memory_needed(bench, Scenario("s", pages), page_size)
            assert need > bench.vmas * pages * page_size
        need = memory_needed(bench, Scenario("s", pages), 4096)
        assert need > last
        last = need
    assert memory_needed(bench, Scenario("s", 8), 16384) > memory_needed(bench, Scenario("s", 8), 4096)


def test_memory_refused_with_numbers():
    need = memory_needed(BENCH, Scenario("ten", 10), 4096)
    have_kb = 40_000  # 40960000 bytes: below need x 1.1, above the empty scenario's need
    assert need * HEADROOM > have_kb * 1024
    out = check_fit(BENCH, facts(mem_available_kb=have_kb), DeviceConfig(), root=True)
    assert kinds(out) == [("ten", None, "not-enough-memory")]
    r = out[0]
    assert r.data == {"needed_bytes": need, "available_bytes": 40_960_000}
    assert "needs about 40 MiB" in r.message and "39 MiB available (MemAvailable)" in r.message
    assert "1000 VMAs x 10 pages x 4096 B" in r.message


def test_memory_within_headroom_is_refused_and_above_is_not():
    need = memory_needed(BENCH, Scenario("ten", 10), 4096)
    just_enough_kb = -(-int(need * HEADROOM) // 1024) + 1
    assert check_fit(BENCH, facts(mem_available_kb=just_enough_kb), DeviceConfig(), root=True) == []
    tight_kb = need // 1024 + 1  # holds the need but not the 10% headroom
    assert kinds(check_fit(BENCH, facts(mem_available_kb=tight_kb), DeviceConfig(), root=True)) == [
        ("ten", None, "not-enough-memory")
    ]


def test_memory_unknown_is_not_refused():
    assert check_fit(BENCH, facts(mem_available_kb=None), DeviceConfig(), root=True) == []


def test_page_size_comes_from_the_facts():
    bench = BenchmarkConfig(vmas=1000, scenarios=(Scenario("ten", 10),))
    need_16k = memory_needed(bench, Scenario("ten", 10), 16384)
    have_kb = need_16k // 1024 - 1  # enough for 4 KiB pages, not for 16 KiB ones
    assert check_fit(bench, facts(mem_available_kb=have_kb, page_size=4096), DeviceConfig(), root=True) == []
    out = check_fit(bench, facts(mem_available_kb=have_kb, page_size=16384), DeviceConfig(), root=True)
    assert out[0].data["needed_bytes"] == need_16k


def test_map_count_refused_when_not_root():
    out = check_fit(BENCH, facts(max_map_count=1500), DeviceConfig(), root=False)
    assert kinds(out) == [("empty", None, "map-count-too-low"), ("ten", None, "map-count-too-low")]
    r = out[0]
    assert r.data == {"needed": NEED_MAPS, "max": 1500}
    assert f"needs vm.max_map_count >= {NEED_MAPS} (1000 VMAs + {MAP_COUNT_MARGIN} for the process)" in r.message
    assert "the device has 1500 (not root, so it cannot be raised)" in r.message


def test_map_count_not_refused_when_root_and_auto():
    assert check_fit(BENCH, facts(max_map_count=1500), DeviceConfig(max_map_count="auto"), root=True) == []


def test_map_count_refused_when_root_but_config_asks_too_little():
    out = check_fit(BENCH, facts(max_map_count=1500), DeviceConfig(max_map_count=1800), root=True)
    assert kinds(out) == [("empty", None, "map-count-too-low"), ("ten", None, "map-count-too-low")]
    assert "device.max_map_count asks for only 1800" in out[0].message
    assert out[0].data == {"needed": NEED_MAPS, "max": 1500}


def test_map_count_enough_when_root_and_config_asks_enough():
    assert check_fit(BENCH, facts(max_map_count=1500), DeviceConfig(max_map_count=NEED_MAPS), root=True) == []


def test_map_count_already_enough_or_unknown():
    assert check_fit(BENCH, facts(max_map_count=NEED_MAPS), DeviceConfig(), root=False) == []
    assert check_fit(BENCH, facts(max_map_count=None), DeviceConfig(), root=False) == []


def test_map_count_refusal_replaces_memory_refusal():
    out = check_fit(BENCH, facts(max_map_count=1500, mem_available_kb=1), DeviceConfig(), root=False)
    assert kinds(out) == [("empty", None, "map-count-too-low"), ("ten", None, "map-count-too-low")]


@pytest.mark.parametrize("config, refused", [
    ({"ANON_VMA_NAME": "y"}, False),
    ({"ANON_VMA_NAME": "n"}, True),
    ({"ANON_VMA_NAME": "m"}, True),
    ({"PERF_EVENTS": "y"}, True),  # config readable, option absent: the kernel lacks it
    ({}, False),  # config unknown: no refusal
])
def test_named_arm(config, refused):
    out = check_fit(BENCH, facts(kernel_config=config), DeviceConfig(), root=True)
    if refused:
        assert kinds(out) == [
            ("empty", "named", "kernel-lacks-anon-vma-name"),
            ("ten", "named", "kernel-lacks-anon-vma-name"),
        ]
        # the same words for each scenario (the refusal names its scenario): said once where listed
        assert out[0].message == out[1].message == NO_ANON_VMA_NAME and "no CONFIG_ANON_VMA_NAME" in out[0].message
    else:
        assert out == []
    # the A/A check (placebo) names nothing: never refused for the kernel's lack of names
    assert check_fit(replace(BENCH, placebo=True), facts(kernel_config=config), DeviceConfig(), root=True) == []


def test_named_arm_refusal_skipped_for_a_scenario_already_refused():
    have_kb = 40_000  # "ten" does not fit, "empty" does
    out = check_fit(
        BENCH, facts(mem_available_kb=have_kb, kernel_config={"ANON_VMA_NAME": "n"}), DeviceConfig(), root=True
    )
    assert kinds(out) == [("ten", None, "not-enough-memory"), ("empty", "named", "kernel-lacks-anon-vma-name")]
