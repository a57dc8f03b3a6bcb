"""Where each character of a Python string literal is in its source file.

:func:`literal_points` scans the source text of a ``str`` constant (prefixes,
quotes, triple quotes, escapes, implicit concatenation of several literals
with blanks, comments and line continuations between them) and returns the
1-based (line, column) of the source character each value character comes
from.  When the scan does not reproduce the value the parser gave, every
character is placed at the literal's start (never a wrong column).
"""

from __future__ import annotations

__all__ = ["SourceText", "literal_points"]

import ast

_SIMPLE = {
    "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v",
}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}


class SourceText:
    """A Python file's lines, with byte columns (as :mod:`ast` gives) turned into characters."""

    __slots__ = ("lines",)

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True) or [""]

    def column(self, line: int, byte_col: int) -> int:
        """The 1-based character column of ``byte_col`` on 1-based ``line``."""
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        if text.isascii():
            return byte_col + 1
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", "replace")) + 1

    def start(self, node: ast.expr) -> tuple[int, int]:
        """Where ``node`` starts."""
        return (node.lineno, self.column(node.lineno, node.col_offset))

    def end(self, node: ast.expr) -> tuple[int, int]:
        """Where the last character of ``node`` is."""
        line = node.end_lineno or node.lineno
        col = node.end_col_offset if node.end_col_offset is not None else node.col_offset + 1
        return (line, max(self.column(line, col) - 1, 1))

    def segment(self, node: ast.expr) -> str:
        """The source text of ``node``."""
        (l1, c1), (l2, c2) = self.start(node), self.end(node)
        if l1 == l2:
            return self.lines[l1 - 1][c1 - 1 : c2]
        parts = [self.lines[l1 - 1][c1 - 1 :], *self.lines[l1 : l2 - 1], self.lines[l2 - 1][:c2]]
        return "".join(parts)


def _escape(seg: str, i: int) -> tuple[str, int]:
    """The value of the escape at ``seg[i] == '\\\\'`` and the index after it."""
    c = seg[i + 1] if i + 1 < len(seg) else ""
    if c == "\n":
        return "", i + 2
    if c in _SIMPLE:
        return _SIMPLE[c], i + 2
    if c in _HEX:
        n = _HEX[c]
        return chr(int(seg[i + 2 : i + 2 + n], 16)), i + 2 + n
    if "0" <= c <= "7":
        j = i + 1
        while j < len(seg) and j < i + 4 and "0" <= seg[j] <= "7":
            j += 1
        return chr(int(seg[i + 1 : j], 8)), j
    if c == "N":
        j = seg.index("}", i)
        value = ast.literal_eval('"' + seg[i : j + 1] + '"')
        return str(value), j + 1
    return "\\" + c, i + 2


def _scan(seg: str) -> list[tuple[str, int]]:
    """(value text, segment index) pieces of the literals in ``seg``."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "#":
            i = seg.find("\n", i)
            i = n if i < 0 else i
            continue
        if c not in "'\"" and not c.isalpha():
            i += 1
            continue
        j = i
        while j < n and seg[j].isalpha():
            j += 1
        raw = "r" in seg[i:j].lower()
        quote = seg[j : j + 3] if seg[j : j + 3] in ("'''", '"""') else seg[j]
        i = j + len(quote)
        while i < n and not seg.startswith(quote, i):
            if seg[i] == "\\" and not raw:
                value, after = _escape(seg, i)
                out.append((value, i))
                i = after
            elif seg[i] == "\\":
                out.append((seg[i : i + 2], i))
                i += 2
            else:
                out.append((seg[i], i))
                i += 1
        i += len(quote)
    return out


def literal_points(source: SourceText, node: ast.Constant) -> list[tuple[int, int]]:
    """File position of each character of the ``str`` constant ``node``."""
    start = source.start(node)
    value = node.value
    assert isinstance(value, str)
    seg = source.segment(node)
    try:
        pieces = _scan(seg)
    except (ValueError, IndexError, SyntaxError):
        pieces = []
    if "".join(p for p, _i in pieces) != value:
        return [start] * len(value)
    where: list[tuple[int, int]] = []
    line, column, k = start[0], start[1], 0
    for text, index in pieces:
        while k < index:
            if seg[k] == "\n":
                line, column = line + 1, 1
            else:
                column += 1
            k += 1
        where.extend([(line, column)] * len(text))
    return where
