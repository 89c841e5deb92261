"""Build payloads/forkbench.c locally and check its real behaviour.

The payload is compiled once per module with zig (x86_64-linux-musl, static)
and run on this machine. Assertions about the named arm branch on whether the
running kernel supports anonymous VMA naming (CONFIG_ANON_VMA_NAME), detected
with a tiny ctypes prctl() call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "payloads" / "forkbench.c"

PR_SET_VMA = 0x53564D41
PR_SET_VMA_ANON_NAME = 0

EXIT_OK = 0
EXIT_BAD_ARGS = 2
EXIT_NO_ANON_NAME = 3
EXIT_MAP_COUNT = 4
EXIT_OOM = 5

BUILD_TIMEOUT = 900  # first zig build per target compiles musl (~40-60 s)
RUN_TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forkbench is Linux-only"
)


# --------------------------------------------------------------------------
# helpers


def _zig_cc(target: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "ziglang", "cc",
        "-target", target, "-static", "-O2",
        "-Wall", "-Wextra", "-Werror",
        *extra,
        "-o", str(out), str(SOURCE),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)


def _anon_vma_name_supported() -> bool:
    """Probe prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME) on a throw-away page."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong, ctypes.c_ulong]
    page = os.sysconf("SC_PAGE_SIZE")
    import mmap as _mmap

    addr = libc.mmap(None, page, _mmap.PROT_READ | _mmap.PROT_WRITE,
                     _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        pytest.fail("probe mmap failed")
    name = ctypes.create_string_buffer(b"dvbtestprobe")
    try:
        rc = libc.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, page,
                        ctypes.cast(name, ctypes.c_void_p).value)
        err = ctypes.get_errno()
    finally:
        libc.munmap(addr, page)
    if rc == 0:
        return True
    assert err == errno.EINVAL, f"unexpected prctl errno {err}"
    return False


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _mem_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        # Every stdout line must be one JSON object.
        self.events = []
        for line in proc.stdout.splitlines():
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            self.events.append(obj)

    def of(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]

    def one(self, event: str) -> dict:
        found = self.of(event)
        assert len(found) == 1, (event, self.events)
        return found[0]

    def errors(self, kind: str | None = None) -> list[dict]:
        return [e for e in self.of("error") if kind is None or e["kind"] == kind]

    def batches(self, arm: str | None = None) -> list[dict]:
        return [b for b in self.of("batch") if arm is None or b["arm"] == arm]

    def __repr__(self) -> str:  # shown by pytest on failure
        return f"Run(rc={self.rc}, stderr={self.stderr!r}, stdout={self.stdout!r})"


def _check_framing(run: Run) -> None:
    """Common invariants of a non-bad-args run."""
    assert run.events, run
    assert run.events[0]["event"] == "start", run
    assert run.events[-1]["event"] == "end", run
    assert run.events[-1]["exit_code"] == run.rc, run
    assert isinstance(run.events[-1]["elapsed_ns"], int)
    assert len(run.of("end")) == 1
    for err in run.errors():
        assert set(err) >= {"kind", "arm", "errno", "message"}, err
        assert f"forkbench: {err['message']}" in run.stderr.splitlines(), run


def _check_samples(batch: dict) -> None:
    samples = batch["fork_ns"]
    assert len(samples) == batch["forks"], batch
    assert all(type(s) is int and s > 0 for s in samples), batch
    exits = batch["exit_ns"]  # the child's exit, timed on its own
    assert len(exits) == batch["forks"], batch
    assert all(type(s) is int and s > 0 for s in exits), batch


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def forkbench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("forkbench") / "forkbench"
    res = _zig_cc("x86_64-linux-musl", out)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", f"compiler warnings: {res.stderr}"
    return out


@pytest.fixture(scope="module")
def named_supported() -> bool:
    return _anon_vma_name_supported()


@pytest.fixture
def run(forkbench):
    def _run(*args: str | int, timeout: float = RUN_TIMEOUT) -> Run:
        proc = subprocess.run(
            [str(forkbench), *map(str, args)],
            capture_output=True, text=True, timeout=timeout,
        )
        return Run(proc)

    return _run


# --------------------------------------------------------------------------
# behaviour


def test_interleaved_512(run, named_supported):
    r = run("--vmas", 512, "--pages", 1, "--name-length", 79,
            "--forks", 20, "--batches", 4, "--warmup", 2)
    _check_framing(r)

    start = r.one("start")
    assert start["payload_version"] == 4 and start["first_arm"] == "named"
    assert "test_build" not in start
    assert start["vmas"] == 512 and start["pages"] == 1 and start["vma_pages"] == 1
    assert start["arm"] == "both" and start["batches"] == 4 and start["warmup"] == 2
    assert start["forks"] == 20 and start["shared_name"] is False
    assert start["name_length"] == 79 and start["seed"] == 1
    assert start["page_size"] == os.sysconf("SC_PAGE_SIZE")

    setup = r.one("setup")
    assert setup["vmas_created"] == 512
    assert setup["vmas_expected"] == 512
    assert setup["vmas_ok"] is True
    assert setup["maps_after"] - setup["maps_before"] == 512
    assert setup["map_ns"] > 0 and setup["populate_ns"] > 0

    unnamed = r.batches("unnamed")
    assert [b["batch"] for b in unnamed] == [0, 1, 2, 3]
    assert [b["forks"] for b in unnamed] == [5, 5, 5, 5]
    assert all(b["warmup"] == 2 for b in unnamed)
    for b in unnamed:
        _check_samples(b)
    assert sum(len(b["fork_ns"]) for b in unnamed) == 20

    named = r.batches("named")
    if named_supported:
        assert r.rc == EXIT_OK, r
        assert not r.errors(), r
        check = r.one("named_check")
        assert check["ok"] is True
        assert check["anon_lines"] >= 512
        assert check["vmas_expected"] == 512
        assert check["name_ns"] > 0
        assert [b["batch"] for b in named] == [0, 1, 2, 3]
        for b in named:
            _check_samples(b)
        assert sum(len(b["fork_ns"]) for b in named) == 20
        # named_check comes after setup and before the first batch
        kinds = [e["event"] for e in r.events]
        assert kinds.index("setup") < kinds.index("named_check") < kinds.index("batch")
    else:
        assert r.rc == EXIT_NO_ANON_NAME, r
        assert named == []
        assert r.of("named_check") == []
        (err,) = r.errors()
        assert err["kind"] == "kernel-lacks-anon-vma-name"
        assert err["errno"] == errno.EINVAL
        assert err["arm"] == "named"
        assert "CONFIG_ANON_VMA_NAME" in err["message"]


def test_batch_split_and_alternation(run, named_supported):
    r = run("--vmas", 64, "--pages", 1, "--name-length", 20,
            "--forks", 10, "--batches", 3, "--warmup", 0)
    _check_framing(r)
    unnamed = r.batches("unnamed")
    assert [b["forks"] for b in unnamed] == [4, 3, 3]
    for b in unnamed:
        _check_samples(b)
        assert b["warmup"] == 0
    order = [(b["batch"], b["arm"]) for b in r.batches()]
    if named_supported:
        assert r.rc == EXIT_OK, r
        assert order == [
            (0, "named"), (0, "unnamed"),
            (1, "unnamed"), (1, "named"),
            (2, "named"), (2, "unnamed"),
        ]
        assert [b["forks"] for b in r.batches("named")] == [4, 3, 3]
        clear = r.one("clear")
        assert clear["clear_ns"] > 0
    else:
        assert r.rc == EXIT_NO_ANON_NAME, r
        assert order == [(0, "unnamed"), (1, "unnamed"), (2, "unnamed")]


def test_batches_equal_forks(run):
    r = run("--vmas", 8, "--pages", 1, "--name-length", 10, "--forks", 3,
            "--batches", 3, "--warmup", 1, "--arm", "unnamed")
    assert r.rc == EXIT_OK, r
    assert [b["forks"] for b in r.batches()] == [1, 1, 1]


def test_arm_unnamed_only(run):
    r = run("--vmas", 256, "--pages", 2, "--name-length", 79,
            "--forks", 7, "--batches", 2, "--warmup", 1, "--arm", "unnamed")
    _check_framing(r)
    assert r.rc == EXIT_OK, r
    assert not r.errors(), r
    assert r.one("start")["arm"] == "unnamed"
    assert r.one("setup")["vmas_created"] == 256
    assert r.batches("named") == [] and r.of("named_check") == []
    batches = r.batches("unnamed")
    assert [b["forks"] for b in batches] == [4, 3]
    for b in batches:
        _check_samples(b)


def test_arm_named_only(run, named_supported):
    r = run("--vmas", 128, "--pages", 1, "--name-length", 79,
            "--forks", 6, "--batches", 2, "--warmup", 1, "--arm", "named")
    _check_framing(r)
    assert r.batches("unnamed") == []
    if named_supported:
        assert r.rc == EXIT_OK, r
        assert r.one("named_check")["ok"] is True
        assert [b["forks"] for b in r.batches("named")] == [3, 3]
    else:
        assert r.rc == EXIT_NO_ANON_NAME, r
        assert r.batches() == []
        assert [e["kind"] for e in r.errors()] == ["kernel-lacks-anon-vma-name"]


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--vmas", 4, "--pages", 1, "--name-length", 80, "--forks", 2], "--name-length"),
        (["--vmas", 4, "--pages", 1, "--name-length", 0, "--forks", 2], "--name-length"),
        (["--pages", 1, "--name-length", 8, "--forks", 2], "--vmas"),
        (["--vmas", 4, "--pages", 1, "--name-length", 8, "--forks", 2,
          "--batches", 3], "--batches"),
        (["--vmas", 4, "--pages", 1, "--name-length", 8, "--forks", 2,
          "--frobnicate"], "--frobnicate"),
        (["--vmas", 0, "--pages", 1, "--name-length", 8, "--forks", 2], "--vmas"),
        (["--vmas", 4, "--pages", -1, "--name-length", 8, "--forks", 2], "--pages"),
        (["--vmas", 4, "--pages", 1, "--name-length", 8, "--forks", 2,
          "--arm", "sideways"], "--arm"),
        (["--vmas", 4, "--pages", 1, "--name-length", 8, "--forks"], "--forks"),
    ],
    ids=["L80", "L0", "missing-vmas", "batches-gt-forks", "unknown",
         "vmas0", "pages-neg", "bad-arm", "forks-no-value"],
)
def test_bad_args(run, extra, option):
    r = run(*extra)
    assert r.rc == EXIT_BAD_ARGS, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r
    assert lines[0].startswith("forkbench: ")
    assert option in lines[0]
    (err,) = r.errors()
    assert err["kind"] == "bad-args"
    assert option in err["message"]
    assert err["option"] == option
    assert r.of("start") == [] and r.of("setup") == []
    assert r.events[-1]["event"] == "end"
    assert r.events[-1]["exit_code"] == EXIT_BAD_ARGS


def test_bad_name_length_message_exact(run):
    r = run("--vmas", 4, "--pages", 1, "--name-length", 80, "--forks", 2)
    assert r.stderr == "forkbench: --name-length must be 1..79 (got 80)\n"


def test_max_map_count_too_low(run):
    max_map = _read_int("/proc/sys/vm/max_map_count")
    if max_map is None or max_map >= 70000:
        pytest.skip(f"vm.max_map_count is {max_map}, need < 70000")
    r = run("--vmas", 70000, "--pages", 1, "--name-length", 79, "--forks", 2)
    _check_framing(r)
    assert r.rc == EXIT_MAP_COUNT, r
    (err,) = r.errors()
    assert err["kind"] == "max-map-count-too-low"
    assert err["max"] == max_map
    assert err["needed"] > err["max"]
    assert err["needed"] >= 70000
    assert r.one("start")["max_map_count"] == max_map
    # no mapping attempted
    assert r.of("setup") == [] and r.batches() == []


def test_out_of_memory(run):
    vmas, pages = 60000, 100000
    max_map = _read_int("/proc/sys/vm/max_map_count")
    avail = _mem_available_bytes()
    if avail is None:
        pytest.skip("no MemAvailable")
    if max_map is not None and max_map < vmas + 1000:
        pytest.skip("map-count check would trigger first")
    need = vmas * pages * os.sysconf("SC_PAGE_SIZE")
    if need <= avail:
        pytest.skip("machine has too much memory for this test")
    r = run("--vmas", vmas, "--pages", pages, "--name-length", 79, "--forks", 2)
    _check_framing(r)
    assert r.rc == EXIT_OOM, r
    (err,) = r.errors()
    assert err["kind"] == "out-of-memory"
    assert err["needed"] >= need
    assert err["needed"] > err["available"]
    assert r.of("setup") == [] and r.batches() == []


@pytest.mark.parametrize(
    "extra",
    [
        ["--pages", 0, "--name-length", 79],
        ["--pages", 1, "--name-length", 79, "--shared-name"],
        ["--pages", 1, "--name-length", 1],
        ["--pages", 1, "--name-length", 79],
        ["--pages", 3, "--name-length", 2, "--seed", 0],
    ],
    ids=["P0", "shared-name", "L1", "L79", "P3-L2-seed0"],
)
def test_variants(run, named_supported, extra):
    vmas = 300
    r = run("--vmas", vmas, "--forks", 4, "--batches", 2, "--warmup", 1, *extra)
    _check_framing(r)
    start = r.one("start")
    pages = extra[extra.index("--pages") + 1]
    assert start["pages"] == pages and start["vma_pages"] == max(pages, 1)
    assert start["shared_name"] is ("--shared-name" in extra)
    setup = r.one("setup")
    assert setup["vmas_created"] == vmas and setup["vmas_ok"] is True
    for b in r.batches():
        _check_samples(b)
    assert sum(b["forks"] for b in r.batches("unnamed")) == 4
    if named_supported:
        assert r.rc == EXIT_OK, r
        assert r.one("named_check")["ok"] is True
        assert sum(b["forks"] for b in r.batches("named")) == 4
    else:
        assert r.rc == EXIT_NO_ANON_NAME, r
        assert r.batches("named") == []


def test_warmup_default_is_10(run):
    r = run("--vmas", 4, "--pages", 0, "--name-length", 5, "--forks", 1,
            "--arm", "unnamed")
    assert r.rc == EXIT_OK, r
    assert r.one("start")["warmup"] == 10
    assert r.one("start")["batches"] == 1
    assert r.one("batch")["warmup"] == 10


def test_version_and_help(run, forkbench):
    r = run("--version")
    assert r.rc == 0
    assert r.events == [{"event": "version", "payload_version": 4}]
    proc = subprocess.run([str(forkbench), "--help"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0
    assert "--vmas" in proc.stdout and "--name-length" in proc.stdout


# --------------------------------------------------------------------------
# portability builds (compile only)


def test_gcc_static_warning_free(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    out = tmp_path / "forkbench-gcc"
    res = subprocess.run(
        [gcc, "-std=gnu11", "-O2", "-static", "-Wall", "-Wextra", "-Werror",
         "-o", str(out), str(SOURCE)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    if res.returncode != 0 and "cannot find -lc" in res.stderr:
        pytest.skip("static glibc (libc6-dev) not available")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", res.stderr
    # glibc static build runs too
    proc = subprocess.run(
        [str(out), "--vmas", "16", "--pages", "1", "--name-length", "9",
         "--forks", "2", "--arm", "unnamed"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["exit_code"] == 0


@pytest.mark.parametrize("target, e_machine",
                         [("aarch64-linux-musl", 183)], ids=["aarch64"])
def test_zig_cross_compile(tmp_path, target, e_machine):
    out = tmp_path / f"forkbench-{target}"
    res = _zig_cc(target, out)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", res.stderr
    head = out.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    assert int.from_bytes(head[18:20], "little") == e_machine


# --------------------------------------------------------------------------
# the timed window


def test_child_held_out_of_the_timed_fork(tmp_path):
    """A child that runs first on the parent's CPU must not exit inside the timed fork.

    The parent is pinned to one CPU, so after fork() the scheduler may run the child before
    the parent reads its second clock. A test build (-DFORKBENCH_TRACE_CHILD) makes the child
    stamp the clock as it starts to exit; the stamp must come after the parent's second read
    in every fork. Before the payload held its child on a pipe, 15 of 40 forks at 8000 VMAs
    had the child's exit inside the window on this machine."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity")
    out = tmp_path / "forkbench-trace"
    res = _zig_cc("x86_64-linux-musl", out, "-DFORKBENCH_TRACE_CHILD")
    assert res.returncode == 0, res.stderr
    cpu = sorted(os.sched_getaffinity(0))[0]
    proc = subprocess.run(
        [str(out), "--vmas", "8000", "--pages", "0", "--name-length", "79", "--forks", "60",
         "--batches", "1", "--warmup", "0", "--arm", "unnamed"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    assert proc.returncode == 0, proc.stderr
    after = [int(line.split("=", 1)[1]) for line in proc.stderr.splitlines()
             if line.startswith("forkbench-trace: child_exit_after_t1_ns=")]
    assert len(after) == 60, proc.stderr
    inside = [a for a in after if a < 0]
    assert not inside, f"{len(inside)} of 60 children exited inside the timed fork: {inside[:5]}"
    batch = Run(proc).one("batch")
    _check_samples(batch)


def test_placebo_flag_is_reported(run):
    """A/A check: with --placebo the named arm clears names instead of setting them (the
    QEMU test on the feature kernel checks what that gives); here: the flag is taken and shown."""
    r = run("--vmas", 64, "--pages", 0, "--name-length", 79, "--forks", 4, "--batches", 2,
            "--warmup", 0, "--placebo")
    _check_framing(r)
    assert r.one("start")["placebo"] is True
    # on a kernel without CONFIG_ANON_VMA_NAME too: the placebo arm names nothing, so it runs
    assert r.rc == EXIT_OK and not r.errors(), r
    check = r.one("named_check")
    assert check["placebo"] is True and check["ok"] is True and check["vmas_expected"] == 0
    assert [(b["batch"], b["arm"]) for b in r.batches()] == [(0, "named"), (0, "unnamed"), (1, "unnamed"),
                                                              (1, "named")]
    assert run("--vmas", 64, "--pages", 0, "--name-length", 79, "--forks", 2,
               "--arm", "unnamed").one("start")["placebo"] is False


# --------------------------------------------------------------------------
# the name checks: /proc/self/maps read line by line, the payload's own range counted

_MAPS_TEST_FLAGS = ("-DFORKBENCH_TEST_PARSE_MAPS", "-DFORKBENCH_MAPS_BUF=256", "-DFORKBENCH_MAPS_CHUNK=7")


@pytest.fixture(scope="module")
def parse_maps(tmp_path_factory):
    """A test build that counts a given maps file as the payload counts /proc/self/maps, with a
    256-byte buffer filled at most 7 bytes per read(): lines split across reads everywhere, and
    lines longer than the buffer."""
    folder = tmp_path_factory.mktemp("parse-maps")
    out = folder / "forkbench-parse-maps"
    res = _zig_cc("x86_64-linux-musl", out, *_MAPS_TEST_FLAGS)
    assert res.returncode == 0, res.stderr

    def _parse(text: str, lo: int, hi: int) -> dict:
        path = folder / "maps"
        path.write_text(text)
        proc = subprocess.run([str(out), "--parse-maps", str(path), f"{lo:x}", f"{hi:x}"],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        event = json.loads(proc.stdout)
        assert event.pop("event") == "maps"
        return event

    return _parse


def _maps_line(start: int, end: int, path: str = "", perms: str = "rw-p", inode: int = 0) -> str:
    """One line as the kernel writes it (show_map_vma: the path padded to column 73)."""
    head = f"{start:08x}-{end:08x} {perms} 00000000 {'08:01' if inode else '00:00'} {inode} "
    return (head + " " * max(73 - len(head), 1) + path if path else head).rstrip(" ") + ("" if path else " ")


def _reference_counts(text: str, lo: int, hi: int) -> dict:
    """What the payload must count, computed on whole lines."""
    c = {"lines": 0, "anon_lines": 0, "maps_in_range": 0, "named_in_range": 0}
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    for line in lines:
        c["lines"] += 1
        fields = line.split(" ", 1)[0].split("-")
        start, end = int(fields[0], 16), int(fields[1], 16)
        parts = line.split(maxsplit=5)
        named = len(parts) == 6 and parts[5].startswith("[anon:")
        c["anon_lines"] += named
        if start < hi and end > lo:
            c["maps_in_range"] += 1
            c["named_in_range"] += named
    return c


def test_maps_count_only_the_payloads_range(parse_maps):
    """A process with named VMAs of its own beside the payload's: the old count (every "[anon:"
    line) reaches the payload's VMA count although one of its VMAs is unnamed; the range count
    does not. A file path that contains "[anon:" is not a name."""
    page, lo = 0x1000, 0x7F0000010000
    own = [(lo + i * 2 * page, lo + i * 2 * page + page) for i in range(8)]  # 8 VMAs, a guard after each
    hi = lo + 8 * 2 * page
    lines = [_maps_line(0x55D0C0000000, 0x55D0C0001000, "/usr/bin/forkbench", "r--p", 1234),
             _maps_line(lo - 3 * page, lo - 2 * page, "[anon:dvbextra]"),  # named, just below the range
             _maps_line(hi, hi + page, "[anon:dvbextra]"),  # named, starts where the range ends
             _maps_line(0x7F1000000000, 0x7F1000001000, "/tmp/odd[anon:x]", "r--p", 99)]
    lines += [_maps_line(s, e, "" if i == 5 else f"[anon:dvb{i:05}]") for i, (s, e) in enumerate(own)]
    lines.append(_maps_line(0x7FFC00000000, 0x7FFC00021000, "[stack]"))
    text = "\n".join(lines) + "\n"
    got = parse_maps(text, lo, hi)
    assert got == {"lines": 13, "anon_lines": 9, "maps_in_range": 8, "named_in_range": 7}
    assert got["anon_lines"] >= len(own)  # what the old check compared: it would have passed
    assert got == _reference_counts(text, lo, hi)
    # a mapping that straddles a range edge is in it (a VMA merged into a neighbour would be)
    assert parse_maps(text, lo - 2 * page - 1, lo + 1) == {
        "lines": 13, "anon_lines": 9, "maps_in_range": 2, "named_in_range": 2}


def test_maps_lines_split_across_reads_long_lines_and_no_final_newline(parse_maps):
    """Every line length around the buffer's 256 bytes, read 7 bytes at a time: the counts are
    those of whole lines; a line longer than the buffer is counted by its head; a last line
    without its newline is counted."""
    import random

    rnd = random.Random(14)
    page, lo, hi = 0x1000, 0x7F0000100000, 0x7F0000200000
    lines = []
    for i in range(400):
        start = rnd.choice([lo - 0x10000, lo, hi - page, hi, 0x7F0000150000]) + i * page
        path = rnd.choice(["", "[anon:" + "n" * rnd.randint(0, 250), "/lib/x" + "y" * rnd.randint(150, 200),
                           "[heap]", "[anon:dvb]"])
        lines.append(_maps_line(start, start + page, path))
    for no_newline in (False, True):
        text = "\n".join(lines) + ("" if no_newline else "\n")
        assert any(len(line) >= 256 for line in lines) and any(len(line) < 80 for line in lines)
        assert parse_maps(text, lo, hi) == _reference_counts(text, lo, hi)
    assert parse_maps("", lo, hi) == {"lines": 0, "anon_lines": 0, "maps_in_range": 0, "named_in_range": 0}


@pytest.mark.parametrize("define", ["FORKBENCH_TEST_EXTRA_NAMED", "FORKBENCH_TEST_KEEP_NAMES"])
def test_check_test_builds_compile_and_say_so(tmp_path, define):
    """The test builds the QEMU tests push (tests/lab/test_run_qemu.py: the checks on the feature
    kernel) build warning-free, and their start event says they are test builds; here, without
    CONFIG_ANON_VMA_NAME, only the unnamed arm runs."""
    out = tmp_path / "forkbench-test"
    res = _zig_cc("x86_64-linux-musl", out, f"-D{define}")
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    proc = subprocess.run([str(out), "--vmas", "16", "--pages", "0", "--name-length", "9", "--forks", "2",
                           "--arm", "unnamed"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    run = Run(proc)
    assert run.rc == EXIT_OK, run
    assert run.one("start")["test_build"] is True
