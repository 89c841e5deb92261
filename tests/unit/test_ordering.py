"""tests/ordering.py: the suite's phases, module grouping, and the wait for set-up's jobs."""

import subprocess
import sys
import time
from pathlib import Path

from tests import ordering


def test_phase_of_each_kind():
    assert ordering.phase_of([], []) == "unit"
    assert ordering.phase_of(["lab"], ["lab_device"]) == "lab"
    assert ordering.phase_of(["lab", "lava"], []) == "other"
    assert ordering.phase_of(["fresh"], []) == "other"
    assert ordering.phase_of(["lab"], ["lab_device_arm64"]) == "arm64"
    assert ordering.phase_of(["lab", "qemu"], ["lab_device_arm64"]) == "qemu"


def test_ordered_by_phase_keeps_modules_together_and_collection_order():
    items = [("a.py", "qemu", 1), ("b.py", "unit", 2), ("a.py", "unit", 3), ("c.py", "lab", 4),
             ("d.py", "unit", 5), ("c.py", "unit", 6), ("e.py", "arm64", 7)]
    got = ordering.ordered(items, module_of=lambda t: t[0], phase=lambda t: t[1])
    assert [t[2] for t in got] == [2, 5, 4, 6, 7, 1, 3]


def test_parse_jobs_ignores_what_is_not_a_pid():
    J = ordering.Job
    assert ordering.parse_jobs("12=arm64=arm64 rootfs; 34=qemu=kernels;;x=qemu=bad;56;78=later=a=b") == [
        J(12, "arm64", "arm64 rootfs"), J(34, "qemu", "kernels"), J(56, "arm64", "pid 56"), J(78, "arm64", "later=a=b")]
    assert ordering.parse_jobs("") == []


def test_each_phase_waits_for_the_jobs_it_needs():
    jobs = ordering.parse_jobs("12=arm64=arm64 rootfs;34=qemu=kernels")
    assert [j.pid for j in ordering.needed_before(jobs, "arm64")] == [12]
    assert [j.pid for j in ordering.needed_before(jobs, "qemu")] == [12, 34]
    assert ordering.needed_before(jobs, "unit") == []


def test_a_zombie_is_not_running(tmp_path: Path):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text("7 (sh (odd) name) Z 1 7 7 0")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "stat").write_text("8 (make) S 1 8 8 0")
    assert not ordering.running(7, tmp_path)
    assert ordering.running(8, tmp_path)
    assert not ordering.running(9, tmp_path)


def test_wait_for_jobs_waits_until_the_job_ends_and_says_what_it_waits_for():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    said: list[str] = []
    try:
        start = time.monotonic()
        waited = ordering.wait_for_jobs([ordering.Job(proc.pid, "qemu", "a kernel")], said.append, poll=0.05)
        # the child exits but stays a zombie until reaped: running() must see it as ended
        assert 1.0 <= waited and time.monotonic() - start < 10
        assert said == [f"waiting for set-up's background job: a kernel (pid {proc.pid})"]
        assert ordering.wait_for_jobs([ordering.Job(proc.pid, "qemu", "a kernel")], said.append) < 1
        assert len(said) == 1
    finally:
        proc.kill()
        proc.wait()


def test_the_waiter_scripts_dev_runs_before_the_fresh_tests_waits_for_the_builds():
    """``python -m tests.ordering wait JOBS``, as scripts/dev's fresh_beside runs it: it returns
    only once the job has ended (a zombie counts as ended) and says what it waited for."""
    root = Path(__file__).resolve().parents[2]
    build = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "tests.ordering", "wait", f"{build.pid}=qemu=the kernels"],
                             cwd=root, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - start
        assert out.returncode == 0, out.stderr
        assert build.poll() is not None and took >= 1.0, f"returned after {took:.1f} s, build still running"
        assert out.stdout == f"waiting for set-up's background job: the kernels (pid {build.pid})\n"
    finally:
        build.kill()
        build.wait()
    bad = subprocess.run([sys.executable, "-m", "tests.ordering", "wiat", "1=qemu=x"],
                         cwd=root, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage: python -m tests.ordering wait" in bad.stderr


def test_children_of_the_session_hear_sigint():
    """Even when the suite was started with SIGINT ignored (in the background of a shell), the
    devbench runs it starts can be interrupted with SIGINT (tests/conftest.py)."""
    import signal
    import subprocess
    import sys

    probe = "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
    assert signal.getsignal(signal.SIGINT) != signal.SIG_IGN
