"""Where each character of a Python string literal is in its source file.

:func:`literal_points` scans the source text of a ``str`` constant (prefixes,
quotes, triple quotes, escapes, implicit concatenation of several literals
with blanks, comments and line continuations between them) and returns the
1-based (line, column) of the source character each value character comes
from; :func:`fstring_points` does the same for the parts of an f-string
(replacement fields are skipped with their nested brackets and strings), on
every Python version, whatever positions the parser gives inside f-strings.
When a scan does not reproduce what the parser gave, every character is
placed at the literal's start (never a wrong column).
"""

from __future__ import annotations

__all__ = ["SourceText", "fstring_points", "literal_points"]

import ast

_SIMPLE = {
    "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v",
}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}

#: One piece of a scanned literal: its value text (``None`` for an f-string replacement
#: field) and the index in the source segment where it starts.
_Piece = tuple[str | None, int]


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


def _skip_string(seg: str, i: int) -> int:
    """The index after the string literal that starts with the quote at ``seg[i]``."""
    quote = seg[i : i + 3] if seg[i : i + 3] in ("\'\'\'", '"""') else seg[i]
    i += len(quote)
    while i < len(seg) and not seg.startswith(quote, i):
        i += 2 if seg[i] == "\\" else 1
    return i + len(quote)


def _field_end(seg: str, i: int) -> int:
    """The index after the replacement field that opens with the ``{`` at ``seg[i]``."""
    depth = 0
    while i < len(seg):
        c = seg[i]
        if c in "'\"":
            i = _skip_string(seg, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unterminated replacement field")


def _body(seg: str, i: int, quote: str, raw: bool, fmt: bool, out: list[_Piece]) -> int:
    """Scan one literal's body from ``i``; the index of its closing quote."""
    n = len(seg)
    while i < n and not seg.startswith(quote, i):
        c = seg[i]
        if c == "\\" and not raw:
            value, after = _escape(seg, i)
            out.append((value, i))
            i = after
        elif c == "\\":
            out.append((seg[i : i + 2], i))
            i += 2
        elif fmt and c in "{}" and seg[i + 1 : i + 2] == c:
            out.append((c, i))
            i += 2
        elif fmt and c == "{":
            out.append((None, i))
            i = _field_end(seg, i)
        else:
            out.append((c, i))
            i += 1
    return i


def _scan(seg: str) -> list[_Piece]:
    """(value text, segment index) pieces of the literals in ``seg``; text ``None`` is a field."""
    out: list[_Piece] = []
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
        prefix = seg[i:j].lower()
        quote = seg[j : j + 3] if seg[j : j + 3] in ("\'\'\'", '"""') else seg[j]
        i = _body(seg, j + len(quote), quote, "r" in prefix, "f" in prefix, out)
        i += len(quote)
    return out


def _points(seg: str, start: tuple[int, int], pieces: list[_Piece]) -> list[tuple[int, int]]:
    """The file position of each piece's first source character."""
    where: list[tuple[int, int]] = []
    line, column, k = start[0], start[1], 0
    for _text, index in pieces:
        while k < index:
            if seg[k] == "\n":
                line, column = line + 1, 1
            else:
                column += 1
            k += 1
        where.append((line, column))
    return where


def _pieces(source: SourceText, node: ast.expr) -> tuple[list[_Piece], list[tuple[int, int]]]:
    seg = source.segment(node)
    try:
        pieces = _scan(seg)
    except (ValueError, IndexError, SyntaxError):
        return [], []
    return pieces, _points(seg, source.start(node), pieces)


def literal_points(source: SourceText, node: ast.Constant) -> list[tuple[int, int]]:
    """File position of each character of the ``str`` constant ``node``."""
    value = node.value
    assert isinstance(value, str)
    pieces, points = _pieces(source, node)
    if any(text is None for text, _i in pieces) or "".join(
        text or "" for text, _i in pieces
    ) != value:
        return [source.start(node)] * len(value)
    where: list[tuple[int, int]] = []
    for (text, _i), point in zip(pieces, points, strict=True):
        where.extend([point] * len(text or ""))
    return where


def fstring_points(source: SourceText, node: ast.JoinedStr) -> list[list[tuple[int, int]]]:
    """For each part of the f-string ``node``: the positions of a literal part's characters,
    or the one position of a replacement field.  Every character is placed at the string's
    start when the scan does not match the parts the parser gave."""
    pieces, points = _pieces(source, node)
    chunks: list[tuple[str | None, list[tuple[int, int]]]] = []
    for (text, _i), point in zip(pieces, points, strict=True):
        previous = chunks[-1][0] if chunks else None
        if text is not None and previous is not None:
            chunks[-1] = (previous + text, chunks[-1][1] + [point] * len(text))
        else:
            chunks.append((text, [point] * len(text) if text is not None else [point]))
    chunks = [c for c in chunks if c[0] != ""]
    parts = node.values
    matches = len(chunks) == len(parts) and all(
        (isinstance(p, ast.FormattedValue) and text is None)
        or (isinstance(p, ast.Constant) and p.value == text)
        for p, (text, _w) in zip(parts, chunks, strict=True)
    )
    if matches:
        return [where for _text, where in chunks]
    start = source.start(node)
    return [
        [start] * len(p.value) if isinstance(p, ast.Constant) and isinstance(p.value, str)
        else [start]
        for p in parts
    ]
