"""One value per line, exactly: the escaping golden blocks use for strings that are not plain.

A value made only of printable characters (no leading or trailing space) is
written as is after ``key: ``.  Anything else is written after
``key (escaped): `` with ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\xNN`` for a
byte that is not UTF-8, and ``\\uXXXX``/``\\UXXXXXXXX`` for any other
character that is not printable (or a space at either end).  The mapping is
one-to-one, so two different strings never share a line.
"""

from __future__ import annotations

__all__ = ["escape", "field_line"]

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _plain(value: str) -> bool:
    return value != "" and value.isprintable() and value == value.strip(" ")


def escape(value: str) -> str:
    """``value`` with every character that is not plainly printable spelled as an escape."""
    out: list[str] = []
    last = len(value) - 1
    for i, char in enumerate(value):
        code = ord(char)
        if char in _NAMED:
            out.append(_NAMED[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char == " " and i in (0, last):
            out.append("\\u0020")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def field_line(key: str, value: str) -> str:
    """``key: value`` when the value is plain text, else ``key (escaped): ESCAPED``."""
    if _plain(value):
        return f"{key}: {value}"
    escaped = escape(value)
    return f"{key} (escaped): {escaped}" if escaped else f"{key} (escaped):"
