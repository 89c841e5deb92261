"""Find the Debian archive mirror this machine already uses (never hard-code a host)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

# Suites of a Debian archive that carries full releases (not only security/updates).
_SUITE_SUFFIXES_SKIPPED = ("-security", "-updates", "-backports", "-proposed-updates")


def _is_release_suite(suite: str) -> bool:
    suite = suite.strip().rstrip("/")
    if not suite or "/" in suite:  # flat repositories ("./") are not archives
        return False
    return not suite.endswith(_SUITE_SUFFIXES_SKIPPED)


def _is_debian_archive(uri: str) -> bool:
    uri = uri.rstrip("/")
    if not uri.startswith(("http://", "https://")):
        return False
    if "security" in uri.rsplit("/", 1)[-1] or "debian-security" in uri:
        return False
    # Debian archives end in ".../debian" (deb.debian.org/debian, snapshot's .../archive/debian/<date>,
    # mirror.example/debian); a path component "debian" must be present.
    parts = uri.split("://", 1)[1].split("/")[1:]
    return "debian" in parts


@dataclass(frozen=True)
class SourceEntry:
    """One ``deb`` source: archive URI, suites, components and the signed-by value (if any)."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""


def parse_deb822(text: str) -> list[SourceEntry]:
    """Parse a deb822 ``.sources`` text into the entries of its enabled ``deb`` stanzas."""
    out: list[SourceEntry] = []
    for stanza in _stanzas(text):
        if stanza.get("enabled", "yes").strip().lower() == "no":
            continue
        if "deb" not in stanza.get("types", "").split():
            continue
        suites = tuple(stanza.get("suites", "").split())
        comps = tuple(stanza.get("components", "").split())
        signed = stanza.get("signed-by", "")
        out.extend(SourceEntry(uri, suites, comps, signed) for uri in stanza.get("uris", "").split())
    return out


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    fields: dict[str, str] = {}
    key: str | None = None
    for raw in text.splitlines() + [""]:
        line = raw.rstrip()
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
            continue
        if line[0] in " \t" and key is not None:  # continuation line
            fields[key] += " " + line.strip()
            continue
        if ":" in line:
            name, value = line.split(":", 1)
            key = name.strip().lower()
            fields[key] = value.strip()
    return


def parse_one_line(text: str) -> list[SourceEntry]:
    """Parse one-line ``sources.list`` text into its ``deb`` entries."""
    out: list[SourceEntry] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        signed = ""
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            opts: list[str] = []
            while words:
                w = words.pop(0)
                opts.append(w.strip("[]"))
                if w.endswith("]"):
                    break
            for o in opts:
                if o.startswith("signed-by="):
                    signed = o.split("=", 1)[1]
        if len(words) >= 2:
            out.append(SourceEntry(words[0], (words[1],), tuple(words[2:]), signed))
    return out


def debian_main(e: SourceEntry) -> bool:
    """An entry with Debian's ``main`` component (or none named) and no keyring other than
    Debian's archive keyring: not a third-party repository."""
    if e.components and "main" not in e.components:
        return False
    return not (e.signed_by.startswith("/") and "debian-archive" not in e.signed_by)


def pick_mirror(entries: Iterable[SourceEntry]) -> str | None:
    """The first Debian archive URI that serves a plain release suite, without trailing slash.

    Skipped: security archives, suites that are only -updates/-security/-backports, entries
    without the ``main`` component (third-party repositories such as .../linux/debian stable)
    and entries signed by a key other than Debian's archive keyring.
    """
    for e in entries:
        if not _is_debian_archive(e.uri) or not debian_main(e):
            continue
        if any(_is_release_suite(s) for s in e.suites):
            return e.uri.rstrip("/")
    return None


def mirror_from_texts(deb822_texts: Iterable[str] = (), one_line_texts: Iterable[str] = ()) -> str:
    """Pure variant of :func:`debian_mirror` on file contents. Raises LabError if none."""
    entries: list[SourceEntry] = []
    for text in deb822_texts:
        entries.extend(parse_deb822(text))
    for text in one_line_texts:
        entries.extend(parse_one_line(text))
    uri = pick_mirror(entries)
    if uri is None:
        raise LabError("mirror", "no Debian archive entry (deb, release suite, not -security/-updates) in apt sources")
    return uri


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror URL from ``sources_dir``'s ``sources.list.d/*.sources`` and ``sources.list``."""
    deb822: list[str] = []
    one_line: list[str] = []
    d = sources_dir / "sources.list.d"
    if d.is_dir():
        deb822 = [p.read_text(errors="replace") for p in sorted(d.glob("*.sources"))]
        one_line = [p.read_text(errors="replace") for p in sorted(d.glob("*.list"))]
    main_list = sources_dir / "sources.list"
    if main_list.is_file():
        one_line.insert(0, main_list.read_text(errors="replace"))
    try:
        return mirror_from_texts(deb822, one_line)
    except LabError as e:
        raise LabError("mirror", f"{e.detail} (looked in {sources_dir})") from None
