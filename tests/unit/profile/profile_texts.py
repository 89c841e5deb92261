"""Fixed profiler texts for the devbench.profile tests, constructed by hand to each tool's format.

PERF_SCRIPT: `perf script` default output of `perf record -g -e cpu-clock` (x86_64, 6.12-style
kernel symbols). Not a capture: the stacks are written to exercise the parser.

SIMPLEPERF_STANDIN: a stand-in for `simpleperf report-sample --show-callchain` output, written to
the format of ReportSampleCommand::PrintSample()/PrintMetaInfo()/PrintLostSituation() and
ProcessSwitchRecord() in AOSP system/extras/simpleperf/cmd_report_sample.cpp (two-space indent per
level; unknown symbols "*file[+vaddr]" from ThreadTree::FindSymbol). Not output of a real device.
"""

KERNEL = "([kernel.kallsyms])"
LIBC = "(/usr/lib/x86_64-linux-gnu/libc.so.6)"
BIN = "(/data/local/tmp/forkbench)"

FORK_TAIL = (
    f"\tffffffff8110d7a5 copy_process+0x1a55 {KERNEL}\n"
    f"\tffffffff8110e2f0 kernel_clone+0xa0 {KERNEL}\n"
    f"\tffffffff8110e6b1 __x64_sys_fork+0x41 {KERNEL}\n"
    f"\tffffffff81e3a1f8 do_syscall_64+0x58 {KERNEL}\n"
    f"\tffffffff820000b0 entry_SYSCALL_64_after_hwframe+0x76 {KERNEL}\n"
    f"\t    7f2b4c8e5a47 _Fork+0x27 {LIBC}\n"
    f"\t    7f2b4c8e5c8d __libc_fork+0x4d {LIBC}\n"
    f"\t    55d0c0a01234 main+0x234 {BIN}\n"
)
EXIT_TAIL = (
    f"\tffffffff8128a3f0 remove_vma+0x40 {KERNEL}\n"
    f"\tffffffff8128c4d1 exit_mmap+0x1b1 {KERNEL}\n"
    f"\tffffffff8110a0e2 __mmput+0x42 {KERNEL}\n"
    f"\tffffffff81112b9e do_exit+0x2fe {KERNEL}\n"
    f"\tffffffff81113041 do_group_exit+0x31 {KERNEL}\n"
    f"\tffffffff81113078 __x64_sys_exit_group+0x18 {KERNEL}\n"
    f"\tffffffff81004e2b x64_sys_call+0x1f1b {KERNEL}\n"
    f"\tffffffff81e3a1f8 do_syscall_64+0x58 {KERNEL}\n"
    f"\tffffffff820000b0 entry_SYSCALL_64_after_hwframe+0x76 {KERNEL}\n"
    f"\t    7f2b4c8c8a2d [unknown] {LIBC}\n"
)

PERF_SCRIPT = (
    "Warning: 2 out of order events recorded.\n"
    # 1: fork, leaf vm_area_dup
    "       forkbench  4242 [001]  1234.500001:     250000 cpu-clock:ppp: \n"
    f"\tffffffff8110a3c1 vm_area_dup+0x41 {KERNEL}\n"
    f"\tffffffff8110c9e2 dup_mmap+0x1c2 {KERNEL}\n" + FORK_TAIL + "\n"
    # 2: fork, leaf kmem_cache_alloc_noprof under vm_area_dup
    "       forkbench  4242 [001]  1234.500251:     250000 cpu-clock:ppp: \n"
    f"\tffffffff812f0a10 kmem_cache_alloc_noprof+0x60 {KERNEL}\n"
    f"\tffffffff8110a3a2 vm_area_dup+0x22 {KERNEL}\n"
    f"\tffffffff8110c9e2 dup_mmap+0x1c2 {KERNEL}\n" + FORK_TAIL + "\n"
    # 3: fork, leaf __anon_vma_name_reuse under vm_area_dup (tid form of the header)
    "       forkbench  4242/4242 [001]  1234.500501:     250000 cpu-clock:ppp: \n"
    f"\tffffffff8128e110 __anon_vma_name_reuse+0x10 {KERNEL}\n"
    f"\tffffffff8110a3d8 vm_area_dup+0x58 {KERNEL}\n"
    f"\tffffffff8110c9e2 dup_mmap+0x1c2 {KERNEL}\n" + FORK_TAIL + "\n"
    # 4: child exit, leaf vm_area_free
    "       forkbench  4250 [000]  1234.500751:     250000 cpu-clock:ppp: \n"
    f"\tffffffff8110a4f0 vm_area_free+0x20 {KERNEL}\n" + EXIT_TAIL + "\n"
    # 5: child exit, leaf anon_vma_name_free
    "       forkbench  4251 [000]  1234.501001:     250000 cpu-clock:ppp: \n"
    f"\tffffffff8128e200 anon_vma_name_free+0x10 {KERNEL}\n"
    f"\tffffffff8110a4f8 vm_area_free+0x28 {KERNEL}\n" + EXIT_TAIL + "\n"
    # 6: setup, naming the VMAs: prctl -> anon_vma_name_alloc
    "       forkbench  4242 [001]  1234.400001:     250000 cpu-clock:ppp: \n"
    f"\tffffffff8128e050 anon_vma_name_alloc+0x20 {KERNEL}\n"
    f"\tffffffff8128f3c4 madvise_set_anon_name+0xa4 {KERNEL}\n"
    f"\tffffffff81124e7d __do_sys_prctl+0x4ad {KERNEL}\n"
    f"\tffffffff81e3a1f8 do_syscall_64+0x58 {KERNEL}\n"
    f"\tffffffff820000b0 entry_SYSCALL_64_after_hwframe+0x76 {KERNEL}\n"
    f"\t    7f2b4c91e4aa prctl+0xa {LIBC}\n"
    f"\t    55d0c0a01100 main+0x100 {BIN}\n\n"
    # 7: fork, leaf a kernel address perf could not name
    "       forkbench  4242 [001]  1234.501251:     250000 cpu-clock:ppp: \n"
    f"\tffffffffc0a01234 [unknown] {KERNEL}\n" + FORK_TAIL + "\n"
    # 8: idle, no callchain: the symbol is on the header line
    "         swapper     0 [000]  1234.501501:     250000 cpu-clock:ppp:  ffffffff81e4c1e6 default_idle+0x6 "
    f"{KERNEL}\n\n"
    # 9: user code of the benchmark, unsymbolised
    "       forkbench  4242 [001]  1234.501751:     250000 cpu-clock:ppp: \n"
    f"\t    55d0c0a01300 [unknown] {BIN}\n"
    f"\t    7f2b4c829d8f __libc_start_call_main+0x7f {LIBC}\n"
)

SP_KERNEL = "[kernel.kallsyms]"
SP_LIBC = "/apex/com.android.runtime/lib64/bionic/libc.so"
SP_BIN = "/data/local/tmp/forkbench"


def _sp_entry(indent: int, vaddr: str, file: str, symbol: str) -> str:
    pad = " " * indent
    return f"{pad}vaddr_in_file: {vaddr}\n{pad}file: {file}\n{pad}symbol: {symbol}\n"


_SP_FORK_CALLERS = "".join(_sp_entry(4, v, f, s) for v, f, s in [
    ("ffffffc0080a1b2c", SP_KERNEL, "dup_mmap"),
    ("ffffffc0080a2d3e", SP_KERNEL, "copy_process"),
    ("ffffffc0080a4f50", SP_KERNEL, "kernel_clone"),
    ("ffffffc0080a5a64", SP_KERNEL, "__arm64_sys_clone"),
    ("ffffffc008027a88", SP_KERNEL, "invoke_syscall"),
    ("ffffffc008027bc4", SP_KERNEL, "el0_svc_common"),
    ("ffffffc008ec1d20", SP_KERNEL, "el0_svc"),
    ("ffffffc008ec2e34", SP_KERNEL, "el0t_64_sync_handler"),
    ("ffffffc008011548", SP_KERNEL, "el0t_64_sync"),
    ("9c1e8", SP_LIBC, "_Fork"),
    ("9c2f0", SP_LIBC, "fork"),
    ("1a2c", SP_BIN, "main"),
])

SIMPLEPERF_STANDIN = (
    "meta_info:\n"
    "  trace_offcpu: false\n"
    "  event_type: cpu-clock\n"
    "sample:\n"
    "  event_type: cpu-clock\n"
    "  time: 86237845000123\n"
    "  event_count: 1000000\n"
    "  thread_id: 5120\n"
    "  thread_name: forkbench\n"
    + _sp_entry(2, "ffffffc0080a0f10", SP_KERNEL, "vm_area_dup")
    + "  callchain:\n" + _SP_FORK_CALLERS
    + "context_switch:\n"
    "  switch_on: false\n"
    "  time: 86237845000500\n"
    "  thread_id: 5120\n"
    "sample:\n"
    "  event_type: cpu-clock\n"
    "  time: 86237846000123\n"
    "  event_count: 1000000\n"
    "  thread_id: 5120\n"
    "  thread_name: forkbench\n"
    + _sp_entry(2, "ffffffc0081f0a24", SP_KERNEL, "*[kernel.kallsyms][+ffffffc0081f0a24]")
    + "  callchain:\n"
    + _sp_entry(4, "ffffffc0080a0f30", SP_KERNEL, "vm_area_dup")
    + _SP_FORK_CALLERS
    + "sample:\n"
    "  event_type: cpu-clock\n"
    "  time: 86237847000123\n"
    "  event_count: 1000000\n"
    "  thread_id: 5121\n"
    "  thread_name: forkbench\n"
    + _sp_entry(2, "1b3c", SP_BIN, "*forkbench[+1b3c]")
    + "lost_situation:\n"
    "  sample_count: 3\n"
    "  lost_count: 2\n"
)


# An excerpt of real `perf script` output, captured on the machine that wrote these tests (perf 6.1.187,
# kernel 6.18, `perf record -e cpu-clock -F 2000 -g -- sh -c "for i in $(seq 200); do /bin/true; done"`):
# no [cpu] field (perf record without -a), user frames with raw unknown addresses at the root.
PERF_SCRIPT_CAPTURED = """\
true  4936 11268.398484:     500000 cpu-clock: 
	ffffffff82200e37 _raw_spin_lock+0x17 ([kernel.kallsyms])
	ffffffff815fd378 __pte_offset_map_lock+0x98 ([kernel.kallsyms])
	ffffffff8158c556 filemap_map_pages+0x136 ([kernel.kallsyms])
	ffffffff815e4c8c do_fault+0x2ec ([kernel.kallsyms])
	ffffffff815ebedc __handle_mm_fault+0x7fc ([kernel.kallsyms])
	ffffffff815ec6e0 handle_mm_fault+0xd0 ([kernel.kallsyms])
	ffffffff821f2786 exc_page_fault+0x176 ([kernel.kallsyms])
	ffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])
	           13a34 __GI___tunables_init+0xc4 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
	    7ffe4358db16 [unknown] ([unknown])
	2f3d454c444e5542 [unknown] ([unknown])

true  5023 11268.490237:     500000 cpu-clock: 
	ffffffff81444800 acct_collect+0x160 ([kernel.kallsyms])
	ffffffff8135d73d do_exit+0x17d ([kernel.kallsyms])
	ffffffff8135e199 do_group_exit+0x29 ([kernel.kallsyms])
	ffffffff8135e244 __x64_sys_exit_group+0x14 ([kernel.kallsyms])
	ffffffff8124a526 x64_sys_call+0x14f6 ([kernel.kallsyms])
	ffffffff821ecc51 do_syscall_64+0x71 ([kernel.kallsyms])
	ffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])
	           d4409 _exit+0x29 (/usr/lib/x86_64-linux-gnu/libc.so.6)
"""  # noqa: E101, W291 (perf's output as captured: tabs and trailing blanks)
