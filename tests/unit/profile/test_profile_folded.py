"""devbench.profile.folded against fixed perf script and simpleperf texts (tests/unit/profile/profile_texts.py)."""

from collections import Counter

import pytest

from devbench.profile.folded import (
    FORK_EXIT_FUNCTIONS,
    FoldedError,
    filter_stacks,
    is_unknown,
    parse_perf_script,
    parse_simpleperf_report_sample,
    read_folded,
    write_folded,
)
from tests.unit.profile.profile_texts import PERF_SCRIPT, PERF_SCRIPT_CAPTURED, SIMPLEPERF_STANDIN

FORK = "forkbench;main;__libc_fork;_Fork;entry_SYSCALL_64_after_hwframe;do_syscall_64;__x64_sys_fork;" \
       "kernel_clone;copy_process"
EXIT = "forkbench;[unknown];entry_SYSCALL_64_after_hwframe;do_syscall_64;x64_sys_call;__x64_sys_exit_group;" \
       "do_group_exit;do_exit;__mmput;exit_mmap;remove_vma;vm_area_free"
ARM64_FORK = "forkbench;main;fork;_Fork;el0t_64_sync;el0t_64_sync_handler;el0_svc;el0_svc_common;" \
             "invoke_syscall;__arm64_sys_clone;kernel_clone;copy_process;dup_mmap;vm_area_dup"


def test_perf_script_stacks_root_to_leaf_with_comm_root_and_no_offsets():
    p = parse_perf_script(PERF_SCRIPT)
    assert p.stacks == Counter({
        FORK + ";dup_mmap;vm_area_dup": 1,
        FORK + ";dup_mmap;vm_area_dup;kmem_cache_alloc_noprof": 1,
        FORK + ";dup_mmap;vm_area_dup;__anon_vma_name_reuse": 1,   # header with pid/tid
        FORK + ";[unknown]": 1,                                    # kernel frame perf could not name
        EXIT: 1,
        EXIT + ";anon_vma_name_free": 1,
        "forkbench;main;prctl;entry_SYSCALL_64_after_hwframe;do_syscall_64;__do_sys_prctl;"
        "madvise_set_anon_name;anon_vma_name_alloc": 1,
        "swapper;default_idle": 1,                                 # no callchain: frame on the header line
        "forkbench;__libc_start_call_main;[unknown]": 1,
    })
    assert not any("+0x" in s for s in p.stacks)


def test_perf_script_says_what_was_not_symbolised():
    s = parse_perf_script(PERF_SCRIPT).stats
    assert (s.samples, s.unknown_leaf_samples, s.kernel_leaf_samples) == (9, 2, 8)
    # kernel frames per sample: 7 + 8 + 8 + 10 + 11 + 5 + 6 + 1 + 0; user: 3+3+3+1+1+2+3+0+2
    assert (s.kernel_frames, s.user_frames, s.unknown_frames) == (56, 18, 4)
    assert s.unknown_by_file == {"/data/local/tmp/forkbench": 1, "/usr/lib/x86_64-linux-gnu/libc.so.6": 2,
                                 "[kernel.kallsyms]": 1}
    assert s.skipped_lines == 1          # the "Warning:" line
    assert s.lost_samples is None
    assert s.to_json()["unknown_by_file"]["[kernel.kallsyms]"] == 1
    j = parse_perf_script(PERF_SCRIPT).to_json()
    assert (j["samples"], j["distinct_stacks"], j["lost_samples"]) == (9, 9, None)


def test_perf_script_header_forms():
    text = ("perf-exec 17 [003] 5.000001: 1 cycles:P: \n\tffffffff81000001 foo+0x1 ([kernel.kallsyms])\n\n"
            "Binder:1234_2  1234/1240 [002]  9.5:     250000 cpu-clock: \n"
            "\t    7f0000001000 operator new(unsigned long)+0x10 (/system/lib64/libc++.so)\n\n"
            "    cafe  77 [000]  1.25:  100 cpu-clock:  ffffffff81000002 bar ([kernel.kallsyms])\n"
            "sleeper 88 [001] 2.5: 1 sched:sched_switch: prev_comm=sleeper prev_pid=88\n")
    p = parse_perf_script(text)
    assert p.stacks == Counter({"perf-exec;foo": 1, "Binder:1234_2;operator new(unsigned long)": 1,
                                "cafe;bar": 1, "sleeper;[unknown]": 1})
    assert p.stats.user_frames == 1 and p.stats.kernel_frames == 2 and p.stats.unknown_leaf_samples == 1


def test_simpleperf_standin_in_report_sample_format():
    p = parse_simpleperf_report_sample(SIMPLEPERF_STANDIN)
    assert p.stacks == Counter({ARM64_FORK: 1, ARM64_FORK + ";[unknown]": 1, "forkbench;[unknown]": 1})
    s = p.stats
    assert (s.samples, s.unknown_leaf_samples, s.kernel_leaf_samples) == (3, 2, 2)
    assert (s.kernel_frames, s.user_frames, s.unknown_frames) == (10 + 11, 3 + 3 + 1, 2)
    assert s.unknown_by_file == {"/data/local/tmp/forkbench": 1, "[kernel.kallsyms]": 1}
    assert s.lost_samples == 2 and s.skipped_lines == 0


def test_simpleperf_without_callchain_and_old_dso_key():
    text = ("sample:\n  time: 1\n  thread_id: 7\n  ip: ffffffc008001000\n  dso: [kernel.kallsyms]\n"
            "  symbol: copy_process\n"
            "sample:\n  event_type: cpu-clock\n  thread_id: 8\n  thread_name: sh\n  vaddr_in_file: 10\n"
            "  file: /system/bin/sh\n  symbol: unknown\n")
    p = parse_simpleperf_report_sample(text)
    assert p.stacks == Counter({"tid 7;copy_process": 1, "sh;[unknown]": 1})
    assert (p.stats.kernel_frames, p.stats.user_frames, p.stats.unknown_leaf_samples) == (1, 1, 1)


@pytest.mark.parametrize("symbol,unknown", [
    ("[unknown]", True), ("unknown", True), ("0xffffffff81000000", True), ("ffffffff81234567", True),
    ("*libc.so[+1a2b]", True), ("[kernel.kallsyms][+ffffffc0081f0a24]", True), ("", True),
    ("copy_process", False), ("add", False), ("[linker]__linker_init", False), ("dead", False)])
def test_is_unknown(symbol, unknown):
    assert is_unknown(symbol) is unknown


def test_semicolons_in_symbols_cannot_split_frames():
    text = "x 1 [000] 1.0: 1 cpu-clock: \n\t7f00 a;b+0x1 (/lib/x.so)\n"
    assert list(parse_perf_script(text).stacks) == ["x;a:b"]


def test_filter_keeps_fork_and_exit_paths_only():
    kept = filter_stacks(parse_perf_script(PERF_SCRIPT).stacks, FORK_EXIT_FUNCTIONS)
    assert sum(kept.values()) == 6
    assert all("copy_process" in s or "do_exit" in s for s in kept)
    assert filter_stacks(Counter({"copy_process;x": 3, "p;copy_process": 2}), {"copy_process"}) == \
        Counter({"p;copy_process": 2})  # the root is the process name, never a function


def test_folded_round_trip_and_format():
    stacks = Counter({"b;c": 2, "a;b <x> & y": 5, "a": 1, "z": 0})
    text = write_folded(stacks)
    assert text == "a 1\na;b <x> & y 5\nb;c 2\n"
    assert read_folded(text) == Counter({"a": 1, "a;b <x> & y": 5, "b;c": 2})
    assert read_folded("a;b 1\n\na;b 2\n") == Counter({"a;b": 3})


def test_read_folded_names_the_bad_line():
    with pytest.raises(FoldedError) as e:
        read_folded("a;b 1\na;b x\n")
    assert e.value.line == 2 and "line 2" in str(e.value)


def test_captured_perf_script_excerpt():
    p = parse_perf_script(PERF_SCRIPT_CAPTURED)
    assert p.stacks == Counter({
        "true;[unknown];[unknown];__GI___tunables_init;asm_exc_page_fault;exc_page_fault;handle_mm_fault;"
        "__handle_mm_fault;do_fault;filemap_map_pages;__pte_offset_map_lock;_raw_spin_lock": 1,
        "true;_exit;entry_SYSCALL_64_after_hwframe;do_syscall_64;x64_sys_call;__x64_sys_exit_group;"
        "do_group_exit;do_exit;acct_collect": 1})
    s = p.stats
    assert (s.samples, s.unknown_leaf_samples, s.kernel_frames, s.user_frames) == (2, 0, 15, 4)
    assert s.unknown_by_file == {"[unknown]": 2} and s.skipped_lines == 0
    assert sum(filter_stacks(p.stacks).values()) == 1


def test_frames_before_any_header_are_skipped_not_guessed():
    p = parse_perf_script("\tffffffff81000130 entry_SYSCALL_64+0x76 ([kernel.kallsyms])\n\n" + PERF_SCRIPT_CAPTURED)
    assert p.stats.samples == 2 and p.stats.skipped_lines == 1


def test_payload_stacks_take_the_payloads_own_and_its_nameless_exiting_children():
    from collections import Counter

    from devbench.profile.runs import payload_stacks

    stacks = Counter({"forkbench-71186;main;fork;kernel_clone;copy_process": 5,
                      ":275;__x64_sys_exit_group;do_group_exit;do_exit;mmput;exit_mmap;unmap_vmas": 3,
                      ":276;do_syscall_64;ksys_write": 2,  # a nameless task, not exiting: not ours
                      "adbd;do_exit;exit_mmap": 7,  # another process's exit
                      "swapper;default_idle_call": 9})
    ours, nameless = payload_stacks(stacks, "forkbench-71186")
    assert nameless == 3
    assert ours == Counter({"forkbench-71186;main;fork;kernel_clone;copy_process": 5,
                            "forkbench-71186;__x64_sys_exit_group;do_group_exit;do_exit;mmput;exit_mmap;unmap_vmas": 3})
