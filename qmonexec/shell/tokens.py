"""Token types of the shell lexer, each with its source position.

A :class:`Token` is one lexical unit of POSIX XCU 2.3 token recognition: a
word (with its quoting parts kept, see :mod:`qmonexec.shell.nodes`), an
operator, a redirection operator (with its optional all-digit fd prefix), a
newline, or the end of input.  Positions (:mod:`.position`) are 0-based
character offsets into the text given to the lexer, plus 1-based line and
column numbers.
"""

from __future__ import annotations

__all__ = ["Kind", "Pos", "Token", "positioner"]

import enum

from .nodes import Word
from .position import Pos, positioner


class Kind(enum.IntEnum):
    """What a token is."""

    WORD = 1
    #: A control operator: ``| && || ; & ( )`` or one of the operators only
    #: recognised to report them (``;;``).
    OPERATOR = 2
    #: A redirection operator, ``fd`` holds its all-digit prefix (or ``None``).
    REDIRECT = 3
    NEWLINE = 4
    EOF = 5


class Token:
    """One token.

    ``value`` is the operator text for operators and redirections, the raw
    source text for words, ``"\\n"`` for newlines and ``""`` at the end.
    ``end`` is the offset just past the token.  Words carry their parsed
    :class:`~qmonexec.shell.nodes.Word` in ``word``; redirections carry their
    fd prefix in ``fd``.
    """

    __slots__ = ("end", "fd", "kind", "pos", "value", "word")

    def __init__(
        self,
        kind: Kind,
        value: str,
        pos: Pos,
        end: int,
        word: Word | None = None,
        fd: int | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos
        self.end = end
        self.word = word
        self.fd = fd

    def __repr__(self) -> str:
        extra = f", fd={self.fd}" if self.fd is not None else ""
        return f"Token({self.kind.name}, {self.value!r}, {self.pos.offset}{extra})"
