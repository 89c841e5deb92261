"""The fresh-machine test's pure helpers (tests/fresh/freshroot.py) and devlab.toolcheck's."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.guest.mirror import SourceEntry, parse_deb822
from devlab import toolcheck
from tests.fresh import freshroot

HOST_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg
"""


def test_debian_sources_keeps_the_archive_updates_and_security_only() -> None:
    entries = parse_deb822(HOST_SOURCES) + [
        SourceEntry("https://packages.cloud.google.com/apt", ("cloud-sdk-bookworm",), ("main",)),
        SourceEntry("http://mirror.example/debian", ("bookworm",), ("contrib",)),  # no main
        SourceEntry("http://deb.debian.org/debian", ("bookworm",), ("main",)),  # a duplicate
    ]
    assert freshroot.debian_sources(entries) == [
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ]


def test_host_sources_reads_both_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(HOST_SOURCES)
    (tmp_path / "sources.list").write_text("deb http://mirror.example/debian/ bookworm main # local\n")
    assert freshroot.host_sources(tmp_path)[0] == "deb http://mirror.example/debian bookworm main"
    (tmp_path / "sources.list").write_text("")
    (tmp_path / "sources.list.d/debian.sources").write_text("")
    with pytest.raises(freshroot.FreshRootError):
        freshroot.host_sources(tmp_path)


SCRIPT = """\
BASE_PACKAGES=(python3-venv python3-pip)
LAB_PACKAGES=(mmdebstrap arch-test iproute2
              arch-test-extra qemu-user-static)
# arch-test is named in this comment
echo arch-test
"""


def test_drop_package_takes_it_out_of_every_list_and_nowhere_else() -> None:
    out = freshroot.drop_package(SCRIPT, "arch-test")
    assert "LAB_PACKAGES=(mmdebstrap iproute2\n              arch-test-extra qemu-user-static)" in out
    assert "# arch-test is named in this comment\necho arch-test\n" in out
    assert freshroot.drop_package(SCRIPT, "python3-pip").startswith("BASE_PACKAGES=(python3-venv )")
    with pytest.raises(ValueError):
        freshroot.drop_package(SCRIPT, "chromium")


def test_drop_package_on_the_real_script() -> None:
    text = (freshroot.REPO / "scripts/dev").read_text()
    out = freshroot.drop_package(text, "arch-test")
    assert out != text
    assert freshroot.drop_package(text, "mmdebstrap").count("mmdebstrap") < text.count("mmdebstrap")


def test_layer_key_depends_on_every_part() -> None:
    a = freshroot.layer_key("base-x", ["a", "b"])
    assert a == freshroot.layer_key("base-x", ["a", "b"])
    assert a != freshroot.layer_key("base-x", ["a"])
    assert a != freshroot.layer_key("base-y", ["a", "b"])


def _check(steps, packages=("no-such-package-devbench",), expect=""):
    return toolcheck.Check("demo", tuple(packages), steps, 10, expect)


def test_toolcheck_a_failing_check_names_its_missing_packages(tmp_path: Path) -> None:
    o = toolcheck.run_check(_check(lambda w: [["sh", "-c", "echo E: boom; exit 3"]]), tmp_path)
    assert not o.ok and o.missing == ["no-such-package-devbench"]
    assert "(exit 3)" in o.detail and "E: boom" in o.detail
    line = toolcheck.report_line(o)
    assert line.startswith("FAIL  demo") and "not installed: no-such-package-devbench" in line


def test_toolcheck_missing_command_and_expected_text(tmp_path: Path) -> None:
    o = toolcheck.run_check(_check(lambda w: [["devbench-no-such-command"]]), tmp_path)
    assert not o.ok and "cannot run devbench-no-such-command" in o.detail
    o = toolcheck.run_check(_check(lambda w: [["echo", "hi"]], expect="bye"), tmp_path)
    assert not o.ok and "printed no 'bye'" in o.detail
    o = toolcheck.run_check(_check(lambda w: [["echo", "bye"]], packages=(), expect="bye"), tmp_path)
    assert o.ok and toolcheck.report_line(o).startswith("ok    demo")


def test_toolcheck_times_out_and_ends_the_whole_process_group(tmp_path: Path) -> None:
    rc, out = toolcheck.run_step(["sh", "-c", "sleep 30 & sleep 30"], tmp_path, timeout=0.5)
    assert rc == 124 and "timed out" in out


def test_toolcheck_select_and_every_check_names_packages() -> None:
    assert toolcheck.select(toolcheck.CHECKS, []) == list(toolcheck.CHECKS)
    arm = toolcheck.select(toolcheck.CHECKS, ["lab rootfs arm64"])
    assert len(arm) == 1 and "arch-test" in arm[0].packages
    for c in toolcheck.CHECKS:
        assert c.packages, c.name


def test_toolcheck_packages_are_in_scripts_dev_lists() -> None:
    """Every package a check declares is one scripts/dev installs (or the check could never pass
    on a fresh machine)."""
    import subprocess
    listed = set(subprocess.run(["bash", str(freshroot.REPO / "scripts/dev"), "packages"], capture_output=True,
                                text=True, check=True, timeout=60).stdout.split())
    declared = {p for c in toolcheck.CHECKS for p in c.packages}
    assert declared - listed == set()
