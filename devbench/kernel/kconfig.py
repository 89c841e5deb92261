"""Read kernel configs (text, inside kernel images, beside them) and check them against
devbench's requirements."""

from __future__ import annotations

import bz2
import importlib.util
import lzma
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .fragment import REQUIRED, Arch, Why

IKCFG_START = b"IKCFG_ST"
IKCFG_END = b"IKCFG_ED"
MAX_IMAGE_BYTES = 1 << 30  # do not read more of a file than this
MAX_PAYLOAD_BYTES = 512 << 20  # cap on a decompressed kernel payload
MAX_CANDIDATES = 64  # per compression magic

_LINE = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set\s*$")


def parse_config(text: str) -> dict[str, str]:
    """``{"ANON_VMA_NAME": "y", "HZ": "250", "LOCALVERSION": "-x", "KVM": "n", ...}``.

    Keys lack the ``CONFIG_`` prefix. ``# CONFIG_X is not set`` gives ``"n"``; quoted
    strings are unquoted (``\\"`` and ``\\\\`` unescaped). Later lines win, as in kconfig.
    """
    cfg: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        m = _LINE.match(line)
        if m:
            value = m.group(2).strip()
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            cfg[m.group(1)] = value
            continue
        m = _NOT_SET.match(line)
        if m:
            cfg[m.group(1)] = "n"
    return cfg


# ---- IKCONFIG inside an image


def _between_markers(blob: bytes | memoryview) -> str | None:
    data = bytes(blob) if isinstance(blob, memoryview) else blob
    start = data.find(IKCFG_START)
    while start != -1:
        begin = start + len(IKCFG_START)
        end = data.find(IKCFG_END, begin)
        if end == -1:
            return None
        try:
            d = zlib.decompressobj(wbits=31)  # gzip
            text = d.decompress(data[begin:end], MAX_PAYLOAD_BYTES)
            return text.decode("utf-8", errors="replace")
        except zlib.error:
            start = data.find(IKCFG_START, begin)  # a stray marker (e.g. the string in a tool)
    return None


def _gunzip(data: memoryview) -> bytes:
    d = zlib.decompressobj(wbits=31)
    return d.decompress(data, MAX_PAYLOAD_BYTES)


def _unxz(data: memoryview) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data, MAX_PAYLOAD_BYTES)


def _unlzma(data: memoryview) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data, MAX_PAYLOAD_BYTES)


def _bunzip2(data: memoryview) -> bytes:
    return bz2.BZ2Decompressor().decompress(data, MAX_PAYLOAD_BYTES)


def _unzstd(data: memoryview) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(bytes(data))


def zstd_available() -> bool:
    return importlib.util.find_spec("zstandard") is not None


# (name, magic, decompressor). Truncated streams are fine: each returns what it could decode.
_METHODS: tuple[tuple[str, bytes, object], ...] = (
    ("gzip", b"\x1f\x8b\x08", _gunzip),
    ("xz", b"\xfd7zXZ\x00", _unxz),
    ("zstd", b"\x28\xb5\x2f\xfd", _unzstd),
    ("bzip2", b"BZh", _bunzip2),
    ("lzma", b"\x5d\x00\x00\x00", _unlzma),
)
# lz4 (\x02\x21\x4c\x18) and lzo (\x89LZO) kernels are not handled: no stdlib decoder.
_UNHANDLED = (("lz4", b"\x02\x21\x4c\x18"), ("lzo", b"\x89LZO\x00"))


def extract_ikconfig(image_bytes: bytes, notes: list[str] | None = None) -> str | None:
    """The config embedded by ``CONFIG_IKCONFIG`` in a kernel image (vmlinux, arm64 ``Image``,
    bzImage, ``Image.gz``, ...), or None.

    Tries a plain search for the ``IKCFG_ST``...``IKCFG_ED`` markers first, then every
    gzip/xz/zstd/bzip2/lzma stream found in the image (a bzImage's compressed vmlinux, an
    ``Image.gz``). zstd needs the python ``zstandard`` module: without it zstd streams are
    skipped. What was skipped is appended to ``notes`` when given.
    """
    text = _between_markers(image_bytes)
    if text is not None:
        return text
    view = memoryview(image_bytes)
    for name, magic, fn in _METHODS:
        offsets = _offsets(image_bytes, magic)
        if not offsets:
            continue
        if name == "zstd" and not zstd_available():
            if notes is not None:
                notes.append("a zstd-compressed payload was not tried: python module 'zstandard' is not installed")
            continue
        for off in offsets:
            try:
                payload = fn(view[off:])  # type: ignore[operator]
            except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, MemoryError, Exception):
                continue
            if len(payload) < 1024:
                continue
            text = _between_markers(payload)
            if text is not None:
                return text
    if notes is not None:
        for name, magic in _UNHANDLED:
            if image_bytes.find(magic) != -1:
                notes.append(f"possible {name} payload not tried (no decoder)")
    return None


def _offsets(data: bytes, magic: bytes) -> list[int]:
    out: list[int] = []
    i = data.find(magic)
    while i != -1 and len(out) < MAX_CANDIDATES:
        out.append(i)
        i = data.find(magic, i + 1)
    return out


# ---- config of a kernel file


def find_config(kernel_path: str | Path, notes: list[str] | None = None) -> tuple[str, str] | None:
    """``(config text, where it came from)`` for a kernel image, or None.

    A config file itself (``.config``, ``/boot/config-*``, ``/proc/config.gz``) is returned as
    is. For an image it tries in order: IKCONFIG inside the image; ``.config``/``config`` beside the image;
    ``.config`` one to three directories up (``tree/arch/x86/boot/bzImage`` ->
    ``tree/.config``); ``config-<version>`` beside a ``vmlinuz-<version>`` (Debian's /boot).
    """
    p = Path(kernel_path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES)
    except OSError as e:
        if notes is not None:
            notes.append(f"cannot read {p}: {e}")
        data = b""
    as_config = _config_file_text(data)
    if as_config is not None:  # a .config, /proc/config.gz or /boot/config-* itself
        return as_config, str(p)
    if data:
        text = extract_ikconfig(data, notes)
        if text is not None:
            return text, f"IKCONFIG in {p}"
    candidates = [p.parent / ".config", p.parent / "config"]
    candidates += [d / ".config" for d in list(p.parent.parents)[:3]]
    m = re.match(r"(?:vmlinuz|vmlinux|bzImage|Image)-(.+)$", p.name)
    if m:
        candidates.append(p.parent / f"config-{m.group(1)}")
    else:
        beside = sorted(p.parent.glob("config-*"))
        if len(beside) == 1:
            candidates.append(beside[0])
    for c in candidates:
        if c.is_file():
            try:
                text = c.read_text(errors="replace")
            except OSError:
                continue
            if "CONFIG_" in text:
                return text, str(c)
    return None


def _config_file_text(data: bytes) -> str | None:
    """The text of ``data`` when it is a kernel config (plain or gzipped), else None."""
    if data[:3] == b"\x1f\x8b\x08" and len(data) < (64 << 20):
        try:
            data = zlib.decompressobj(wbits=31).decompress(data, 64 << 20)
        except zlib.error:
            return None
    head = data[:4096]
    if not head.lstrip().startswith((b"#", b"CONFIG_")) or b"CONFIG_" not in head:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# ---- checking


@dataclass(frozen=True)
class Finding:
    """A required option that the config lacks.

    ``found`` is the config's value (``"n"`` when ``# ... is not set``), None when the symbol
    is absent from the config altogether (older kernel or unmet dependency).
    ``why``: ``benchmark`` (the measured feature), ``perf``, or ``boot`` (devbench's QEMU guest).
    """

    option: str
    wanted: str
    found: str | None
    why: Why
    reason: str = ""

    def __str__(self) -> str:
        got = "absent" if self.found is None else self.found
        what = {"benchmark": "missing for the benchmark", "perf": "missing for perf",
                "boot": "missing to boot in devbench's QEMU"}[self.why]
        tail = f" ({self.reason})" if self.reason else ""
        return f"CONFIG_{self.option}: wanted {self.wanted}, found {got}: {what}{tail}"


def check_config(cfg: dict[str, str], arch: Arch) -> list[Finding]:
    """Every REQUIRED option of ``arch`` whose value in ``cfg`` is not ``y`` (pure)."""
    findings = []
    for o in REQUIRED[arch]:
        found = cfg.get(o.name)
        if found != o.value:
            findings.append(Finding(o.name, o.value, found, o.why, o.reason))
    return findings


def guess_arch(cfg: dict[str, str]) -> Arch | None:
    """The arch of a config (``CONFIG_X86_64`` / ``CONFIG_ARM64``), or None."""
    if cfg.get("X86_64") == "y":
        return "x86_64"
    if cfg.get("ARM64") == "y":
        return "arm64"
    return None
