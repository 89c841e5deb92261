"""The real-clock noise knobs of QEMU guests (issue 14, item 3): the machine type, the daemons
the guest init starts, and the payload detached from the adb session. Pure parts: the QEMU
command line, the guest init's choice of daemons (the script's own function, run by sh), the
config's checks; the detached runner against this machine (LocalTarget, a real shell)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from devbench.config import parse_text
from devbench.errors import ConfigError, TargetError
from devbench.qemu import QemuSpec, qemu_command
from devbench.qemu.image import guest_init_script
from devbench.qemu.machine import kernel_args, machine_type

K = Path("/k/bzImage")
IMG = Path("/c/rootfs.ext4")


def _opt(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd[:-1]) if a == flag]


def _cmd(arch: str = "x86_64", ssh_port: int | None = 40002, **kw: object) -> list[str]:
    return qemu_command(QemuSpec(arch, K, IMG, **kw), adb_port=40001, ssh_port=ssh_port,  # type: ignore[arg-type]
                        console_log="/run/d/c.log")


# -- machine type ------------------------------------------------------------------------------

@pytest.mark.parametrize("arch,machine,expect", [("x86_64", None, "q35"), ("x86_64", "q35", "q35"),
                                                 ("x86_64", "pc", "pc"), ("arm64", None, "virt"),
                                                 ("arm64", "virt", "virt")])
def test_machine_type_reaches_the_command(arch: str, machine: str | None, expect: str) -> None:
    assert _opt(_cmd(arch, machine=machine), "-M") == [expect]
    assert machine_type(QemuSpec(arch, K, IMG, machine=machine)) == expect  # type: ignore[arg-type]


@pytest.mark.parametrize("arch,machine", [("x86_64", "virt"), ("arm64", "q35"), ("arm64", "pc"), ("x86_64", "microvm")])
def test_machine_type_of_another_arch_is_refused(arch: str, machine: str) -> None:
    with pytest.raises(ValueError, match="machine for"):
        QemuSpec(arch, K, IMG, machine=machine)  # type: ignore[arg-type]


# -- daemons -----------------------------------------------------------------------------------

def test_default_daemons_leave_the_command_line_as_it_was() -> None:
    cmd = _cmd()
    assert "devbench.daemons" not in _opt(cmd, "-append")[0]
    (netdev,) = _opt(cmd, "-netdev")
    assert "hostfwd=tcp:127.0.0.1:40002-10.0.2.15:22" in netdev


def test_adbd_only_guest_forwards_no_ssh_port_and_tells_the_init() -> None:
    cmd = _cmd(daemons=("adbd",), ssh_port=None)
    args = _opt(cmd, "-append")[0].split()
    assert "devbench.daemons=adbd" in args
    assert args.index("devbench.daemons=adbd") < args.index("quiet") + 2  # before the user's append
    (netdev,) = _opt(cmd, "-netdev")
    fwds = [p for p in netdev.split(",") if p.startswith("hostfwd=")]
    assert fwds == ["hostfwd=tcp:127.0.0.1:40001-10.0.2.15:5555"]


def test_user_append_comes_after_the_daemons_argument() -> None:
    args = kernel_args(QemuSpec("x86_64", K, IMG, append="foo=1", daemons=("adbd",))).split()
    assert args[-2:] == ["devbench.daemons=adbd", "foo=1"]


def test_sshd_guest_needs_an_ssh_port() -> None:
    with pytest.raises(ValueError, match="ssh_port"):
        _cmd(ssh_port=None)


@pytest.mark.parametrize("daemons", [(), ("adbd", "adbd"), ("adbd", "telnetd")])
def test_bad_daemon_lists_are_refused_by_the_spec(daemons: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="daemons"):
        QemuSpec("x86_64", K, IMG, daemons=daemons)  # type: ignore[arg-type]


def _daemons_of_function() -> str:
    s = guest_init_script()
    m = re.search(r"^daemons_of\(\) \{.*?^\}$", s, re.S | re.M)
    assert m, "the guest init has no daemons_of function"
    return m.group(0)


@pytest.mark.parametrize("cmdline,expect", [
    ("console=ttyS0 root=/dev/vda rw init=/sbin/devbench-guest-init quiet", "adbd,sshd"),
    ("console=ttyS0 quiet devbench.daemons=adbd", "adbd"),
    ("console=ttyS0 devbench.daemons=adbd,sshd foo=*", "adbd,sshd"),
    ("devbench.daemons=sshd devbench.daemons=adbd", "adbd"),  # the last one wins, as the kernel's own
])
def test_guest_init_reads_the_daemons_from_the_kernel_command_line(tmp_path: Path, cmdline: str, expect: str) -> None:
    """The init script's own function, run by sh on a file standing in for /proc/cmdline."""
    f = tmp_path / "cmdline"
    f.write_text(cmdline + "\n")
    (tmp_path / "foo=x").write_text("")  # a glob in the command line must not expand
    out = subprocess.run(["sh", "-c", _daemons_of_function() + '\ndaemons_of "$1"', "sh", str(f)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expect


def test_guest_init_starts_each_daemon_only_when_named() -> None:
    s = guest_init_script()
    assert 'case ",$DAEMONS," in *,sshd,*)' in s and 'case ",$DAEMONS," in *,adbd,*)' in s
    assert "sshd pid ${SSHD:-none} adbd pid ${ADBD:-none}" in s
    subprocess.run(["sh", "-n", "-c", s], check=True, timeout=10)


# -- config ------------------------------------------------------------------------------------

CFG = """\
targets:
  - {{name: k, qemu: {{arch: {arch}{extra}}}}}
benchmark: {{vmas: 16, forks: 2, batches: 1, scenarios: [{{name: s, pages: 0}}]}}
"""


def _parse(arch: str = "x86_64", extra: str = ""):
    return parse_text(CFG.format(arch=arch, extra=extra), "noise.yaml").target("k").options


def _err(arch: str, extra: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _parse(arch, extra)
    return info.value


def test_config_defaults_are_todays_guest() -> None:
    o = _parse()
    assert (o.machine, o.daemons, o.detach) == (None, ("adbd", "sshd"), False)


def test_one_vcpu_unless_the_config_asks_for_more() -> None:
    """Issue 14, item 3: two vCPUs tripled the real clock's batch CV (docs/measurement-fidelity.md)."""
    assert _parse("x86_64").cpus == 1 and _parse("arm64").cpus == 1
    assert _parse("x86_64", ", cpus: 2").cpus == 2


def test_config_knobs() -> None:
    o = _parse("x86_64", ", machine: pc, daemons: [adbd], detach: true")
    assert (o.machine, o.daemons, o.detach) == ("pc", ("adbd",), True)
    assert _parse("arm64", ", machine: virt").machine == "virt"
    assert _parse("x86_64", ", daemons: [sshd, adbd]").daemons == ("adbd", "sshd")  # the init's order


@pytest.mark.parametrize("arch,extra,field,words", [
    ("x86_64", ", machine: virt", "machine", "q35, pc"),
    ("arm64", ", machine: q35", "machine", "virt"),
    ("x86_64", ", daemons: [sshd]", "daemons", "must include adbd"),
    ("x86_64", ", daemons: [adbd, telnetd]", "daemons", "unknown daemon 'telnetd'"),
    ("x86_64", ", daemons: [adbd, adbd]", "daemons", "twice"),
    ("x86_64", ", daemons: adbd", "daemons", "must be a list"),
    ("x86_64", ", detach: yes please", "detach", "true or false"),
])
def test_config_errors_name_file_line_and_field(arch: str, extra: str, field: str, words: str) -> None:
    e = _err(arch, extra)
    assert e.field == f"targets[0].qemu.{field}"
    assert words in e.message
    assert str(e).startswith("noise.yaml:2:")  # one line: file, line, field
    assert "\n" not in str(e)


# -- detached runs (this machine's shell: the device side is plain sh, setsid, timeout, tail) ---

@pytest.fixture
def local(tmp_path: Path):
    from devbench.config import LocalOptions
    from devbench.targets.local import LocalTarget

    return LocalTarget("here", LocalOptions(workdir=str(tmp_path)))


def test_detached_run_streams_lines_keeps_exit_code_and_stderr_and_cleans_up(local, tmp_path: Path) -> None:
    from devbench.targets.detached import run_detached

    lines: list[str] = []
    script = "echo one; sleep 1.5; echo 'two words'; echo oops >&2; exit 3"
    res = run_detached(local, ["sh", "-c", script], workdir=str(tmp_path), on_line=lines.append, collect_s=1)
    assert (res.exit_code, res.stdout, res.stderr) == (3, "one\ntwo words\n", "oops\n")
    assert lines == ["one", "two words"]
    assert [p.name for p in tmp_path.iterdir()] == []  # out, err and rc files removed


def test_detached_run_is_in_a_session_of_its_own(local, tmp_path: Path) -> None:
    from devbench.targets.detached import run_detached

    res = run_detached(local, ["sh", "-c", "cut -d' ' -f6 /proc/self/stat; echo $PPID"], workdir=str(tmp_path),
                       collect_s=1)
    sid, parent = res.stdout.split()
    assert sid == parent  # the setsid'd shell leads the session; this pytest's session is another
    assert int(sid) != os.getsid(0)


def test_detached_run_times_out_and_kills_its_process_group(local, tmp_path: Path) -> None:
    from devbench.targets.detached import run_detached

    marker = tmp_path / "pid"
    with pytest.raises(TargetError, match="timed out after 2 s"):
        run_detached(local, ["sh", "-c", f"echo $$ > {marker}; sleep 300"], workdir=str(tmp_path), timeout=2,
                     collect_s=1)
    pid = int(marker.read_text())
    assert _gone(pid)


def _gone(pid: int, within_s: float = 3.0) -> bool:
    """Gone or a zombie (its parent, whoever reaps orphans here, may not have reaped it yet)."""
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("text", ["", "12\n"])
def test_parse_rc(text: str) -> None:
    from devbench.targets.detached import parse_rc

    assert parse_rc(text) == (int(text) if text.strip() else None)


@pytest.mark.parametrize("text", ["rm -rf /", "300", "-1", "3; reboot"])
def test_device_text_that_is_no_exit_code_is_refused(text: str) -> None:
    from devbench.targets.detached import parse_rc

    with pytest.raises(ValueError):
        parse_rc(text)


@pytest.mark.parametrize("text", ["rm -rf /", "", "-1", "1", "12 13", "$(reboot)"])
def test_device_text_that_is_no_pid_is_refused(text: str) -> None:
    from devbench.targets.detached import parse_pid

    with pytest.raises(ValueError):
        parse_pid(text)
    assert parse_pid(" 4242\n") == 4242


def test_detached_run_leaves_the_device_alone_between_polls(local, tmp_path: Path) -> None:
    """While the command runs, nothing of devbench runs on the device: the host sleeps and then
    runs one short poll; a 2.5 s command polled every second takes start + 3 polls + cleanup."""
    from devbench.targets.detached import run_detached

    calls: list[float] = []
    real_run = local.run

    def counting_run(argv, **kw):
        calls.append(time.monotonic())
        return real_run(argv, **kw)

    local.run = counting_run  # type: ignore[method-assign]
    res = run_detached(local, ["sh", "-c", "sleep 2.5; echo done"], workdir=str(tmp_path), collect_s=1)
    assert res.exit_code == 0 and res.stdout == "done\n"
    assert 4 <= len(calls) <= 6, calls  # start, 3 polls (one a second), cat stderr, rm
    gaps = [b - a for a, b in zip(calls[1:3], calls[2:4], strict=False)]
    assert all(g >= 0.9 for g in gaps), gaps  # the polls are a second apart, not a busy loop


def test_parse_poll_reads_the_exit_code_line_then_the_output() -> None:
    from devbench.targets.detached import parse_poll

    assert parse_poll("-\nline 1\nline 2\n") == (None, "line 1\nline 2\n")
    assert parse_poll("0\n") == (0, "")
    assert parse_poll("3\nlast\n") == (3, "last\n")
    with pytest.raises(ValueError, match="not an exit code"):
        parse_poll("3; reboot\nx\n")
