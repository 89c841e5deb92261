"""Text from a device or a results file, made safe to print on a terminal (pure).

A device's strings (a model name, a target's warning, a lock owner, an error's message) and
what a results.json says are shown, never obeyed: a terminal's escape sequences and other
control characters are written out as \\xNN (\\uNNNN above 0xff; \\n, \\r and \\t as such),
so "\\x1b]0;pwned\\x07" sets no window title and "\\x1b[2J" clears nothing. Printable text, non-ASCII letters
included, passes unchanged. Line breaks are escaped unless `lines` keeps them (a multi-line
table)."""

from __future__ import annotations

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(c: str) -> str:
    return _SHORT.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")


def shown(text: object, lines: bool = False) -> str:
    """`text` with every non-printable character escaped (newlines kept when `lines`)."""
    s = str(text)
    if s.isprintable() and "\n" not in s:
        return s
    return "".join(c if c.isprintable() or (lines and c == "\n") else _escape(c) for c in s)
