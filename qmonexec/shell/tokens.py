"""Token types of the shell lexer, each with its source position.

A :class:`Token` is one lexical unit of POSIX XCU 2.3 token recognition: a
word (with its quoting parts kept, see :mod:`qmonexec.shell.nodes`), an
operator, a redirection operator (with its optional all-digit fd prefix), a
newline, or the end of input.  Positions are 0-based character offsets into
the text given to the lexer, plus 1-based line and column numbers.
"""

from __future__ import annotations

__all__ = ["OPERATORS", "REDIRECTIONS", "RESERVED_WORDS", "Kind", "Pos", "Token", "positioner"]

import enum
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .nodes import Word


class Pos(NamedTuple):
    """A source position: ``offset`` (0-based, in characters), ``line`` and ``column`` (1-based)."""

    offset: int
    line: int
    column: int

    def to_dict(self) -> dict[str, int]:
        """Return ``{"offset": ..., "line": ..., "column": ...}``."""
        return {"offset": self.offset, "line": self.line, "column": self.column}


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


#: Control operators the lexer produces as :attr:`Kind.OPERATOR` tokens.
OPERATORS = frozenset({"|", "&&", "||", ";", "&", "(", ")", ";;"})

#: Redirection operators the lexer produces as :attr:`Kind.REDIRECT` tokens.
#: ``<<`` and ``<<-`` (here-documents) are recognised so that the parser can
#: refuse them.
REDIRECTIONS = frozenset({"<", ">", ">>", "<>", ">|", "<&", ">&", "<<", "<<-"})

#: Words that start or belong to compound commands in some shell when they
#: stand in command position; qmonexec never produces them.  (``{``, ``}`` and
#: ``!`` are reserved too, but only as an unquoted word on its own: the parser
#: handles them.)
RESERVED_WORDS = frozenset(
    {
        "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until",
        "for", "in", "function", "select", "[[", "]]", "time", "coproc", "repeat", "foreach",
        "nocorrect", "end",
    }
)  # fmt: skip


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


def positioner(text: str) -> Callable[[int], Pos]:
    """Return a function mapping an offset in ``text`` to its :class:`Pos`.

    Building it costs one pass over ``text``; each lookup is O(log lines).
    """
    mk = tuple.__new__  # NamedTuple's own __new__ is several times slower
    if "\n" not in text:
        return lambda offset: mk(Pos, (offset, 1, offset + 1))
    # line start offsets, computed without a Python-level loop per line
    starts = list(accumulate(map((1).__add__, map(len, text.split("\n"))), initial=0))

    def pos(offset: int) -> Pos:
        k = bisect_right(starts, offset) - 1
        return mk(Pos, (offset, k + 1, offset - starts[k] + 1))

    return pos
