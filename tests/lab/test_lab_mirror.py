"""The apt sources parser, on strings (no root, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devbench.guest.mirror import parse_deb822, parse_one_line
from devlab import LabError, debian_mirror, mirror_from_texts

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_deb822_skips_security_and_picks_archive() -> None:
    assert mirror_from_texts([DEB822]) == "http://deb.debian.org/debian"


def test_deb822_fields() -> None:
    entries = parse_deb822(DEB822)
    assert [e.uri for e in entries] == ["http://deb.debian.org/debian-security", "http://deb.debian.org/debian"]
    assert entries[1].suites == ("bookworm", "bookworm-updates")
    assert entries[1].components == ("main",)


def test_deb822_disabled_src_updates_only_and_trailing_slash() -> None:
    text = """\
Types: deb
URIs: http://disabled.example/debian
Suites: trixie
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: trixie
Components: main

Types: deb
URIs: http://updates.example/debian
Suites: trixie-updates trixie-backports
Components: main

Types: deb deb-src
URIs: https://mirror.example.org/debian/
Suites: trixie
Components: main contrib
"""
    assert mirror_from_texts([text]) == "https://mirror.example.org/debian"


def test_one_line_format() -> None:
    text = """\
# comment
deb http://security.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/docker.gpg] https://download.docker.com/linux/debian bookworm stable
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.example.de/debian/ bookworm main  # ok
"""  # noqa: E501 (data, kept as it is)
    entries = parse_one_line(text)
    assert [e.uri for e in entries][0] == "http://security.debian.org/debian-security"
    assert mirror_from_texts(one_line_texts=[text]) == "http://ftp.example.de/debian"


def test_old_security_layout_skipped() -> None:
    text = "deb http://security.debian.org/ bullseye/updates main\ndeb http://deb.debian.org/debian bullseye main\n"
    assert mirror_from_texts(one_line_texts=[text]) == "http://deb.debian.org/debian"


def test_snapshot_archive_accepted() -> None:
    text = "deb http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main\n"
    assert mirror_from_texts(one_line_texts=[text]) == "http://snapshot.debian.org/archive/debian/20250520T000000Z"


def test_none_raises_lab_error() -> None:
    with pytest.raises(LabError) as ei:
        mirror_from_texts([], ["deb http://security.debian.org/debian-security bookworm-security main\n"])
    assert ei.value.step == "mirror"
    with pytest.raises(LabError):
        mirror_from_texts(["Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble\nComponents: main\n"])


def test_reads_files(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text("# empty\n")
    assert debian_mirror(tmp_path) == "http://deb.debian.org/debian"
    with pytest.raises(LabError, match="looked in"):
        debian_mirror(tmp_path / "missing")


@pytest.mark.lab  # the lab's rootfs is built from this mirror
@pytest.mark.skipif(not Path("/etc/apt").is_dir(), reason="not a Debian-family machine")
def test_this_machine_has_a_mirror() -> None:
    assert debian_mirror().startswith(("http://", "https://"))
