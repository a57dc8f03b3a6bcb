"""AST node types of the shell subset, each with its source position.

Word parts keep the quoting of the source:

* :class:`Lit`: literal text; unquoted when it is a direct part of a
  :class:`Word`, quoted when it is inside :class:`DblQuoted`.
* :class:`SglQuoted`: ``'...'``.
* :class:`DblQuoted`: ``"..."`` with its own parts.
* :class:`Escaped`: ``\\c`` (a backslash quoting one character).
* :class:`Expansion`: anything the shell expands (``$x``, ``${x}``, ``$(...)``,
  backquotes, ``$((...))``, ``$'...'``, ``$"..."``, ``$[...]``, a lone ``$``).

Commands: :class:`Script` holds a :class:`CommandList` of :class:`ListItem`
(an :class:`AndOr` plus its ``;``/``&`` separator); an :class:`AndOr` chains
:class:`Pipeline` nodes with ``&&``/``||``; a pipeline holds commands:
:class:`SimpleCommand`, :class:`BraceGroup` or :class:`Subshell`.
"""

from __future__ import annotations

__all__ = [
    "AndOr",
    "Assignment",
    "BraceGroup",
    "Command",
    "CommandList",
    "DblQuoted",
    "Escaped",
    "ExpKind",
    "Expansion",
    "ListItem",
    "Lit",
    "Part",
    "Pipeline",
    "Redirect",
    "Script",
    "SglQuoted",
    "SimpleCommand",
    "Subshell",
    "Word",
    "iter_words",
]

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from .position import Pos


class ExpKind(enum.Enum):
    """The kind of an :class:`Expansion`."""

    PARAMETER = "parameter"  # $name, $1, $?, ${...}
    COMMAND = "command"  # $(...)
    BACKQUOTE = "backquote"  # `...`
    ARITHMETIC = "arithmetic"  # $((...)) and bash's $[...]
    DOLLAR_SINGLE = "dollar-single"  # $'...'
    DOLLAR_DOUBLE = "dollar-double"  # $"..."
    LONE_DOLLAR = "lone-dollar"  # a $ that starts no expansion


@dataclass(slots=True)
class Lit:
    """Literal text (unquoted directly in a word, quoted inside ``"..."``)."""

    pos: Pos
    text: str


@dataclass(slots=True)
class SglQuoted:
    """``'text'``; ``closed`` is false when the input ended inside the quotes."""

    pos: Pos
    text: str
    closed: bool = True


@dataclass(slots=True)
class Escaped:
    """A backslash and the one character it quotes."""

    pos: Pos
    char: str


@dataclass(slots=True)
class Expansion:
    """An expansion; ``raw`` is its full source text (``$x``, ``$(...)``, ...)."""

    pos: Pos
    kind: ExpKind
    raw: str
    closed: bool = True


@dataclass(slots=True)
class DblQuoted:
    """``"..."``: its parts are :class:`Lit`, :class:`Escaped` and :class:`Expansion`."""

    pos: Pos
    parts: list[Part]
    closed: bool = True


Part = Lit | SglQuoted | Escaped | Expansion | DblQuoted


@dataclass(slots=True)
class Word:
    """One shell word: its parts in source order; ``end`` is the offset just past it."""

    pos: Pos
    end: int
    parts: list[Part]

    def literal_text(self) -> str | None:
        """The word's text if it is one unquoted literal part (used for reserved words)."""
        parts = self.parts
        if len(parts) == 1 and type(parts[0]) is Lit:
            return parts[0].text
        return None


@dataclass(slots=True)
class Assignment:
    """``NAME=value`` before a command name; ``word`` is the whole word."""

    pos: Pos
    name: str
    word: Word


@dataclass(slots=True)
class Redirect:
    """``[fd]op target``; ``fd`` is ``None`` when no digits precede the operator."""

    pos: Pos
    fd: int | None
    op: str
    target: Word


@dataclass(slots=True)
class SimpleCommand:
    """Assignments, argv words and redirections of one simple command."""

    pos: Pos
    assignments: list[Assignment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class BraceGroup:
    """``{ list; }`` followed by redirections that apply to the whole group."""

    pos: Pos
    body: CommandList
    redirects: list[Redirect] = field(default_factory=list)


@dataclass(slots=True)
class Subshell:
    """``( list )`` followed by redirections."""

    pos: Pos
    body: CommandList
    redirects: list[Redirect] = field(default_factory=list)


Command = SimpleCommand | BraceGroup | Subshell


@dataclass(slots=True)
class Pipeline:
    """``[!] cmd | cmd ...``; ``negated`` is true for a leading ``!``."""

    pos: Pos
    commands: list[Command]
    negated: bool = False


@dataclass(slots=True)
class AndOr:
    """Pipelines joined by ``&&``/``||``: ``ops[i]`` joins ``pipelines[i]`` and ``[i + 1]``."""

    pos: Pos
    pipelines: list[Pipeline]
    ops: list[str] = field(default_factory=list)
    op_positions: list[Pos] = field(default_factory=list)


@dataclass(slots=True)
class ListItem:
    """One and-or list and its terminator: ``";"`` (also for a newline), ``"&"`` or ``None``."""

    pos: Pos
    command: AndOr
    sep: str | None = None
    sep_pos: Pos | None = None


@dataclass(slots=True)
class CommandList:
    """A sequence of and-or lists."""

    pos: Pos
    items: list[ListItem]


@dataclass(slots=True)
class Script:
    """A whole ``-c`` string."""

    pos: Pos
    body: CommandList


def iter_words(script: Script) -> Iterator[Word]:
    """Every word of ``script`` (assignments, argv, redirection targets), in source order."""
    stack: list[CommandList] = [script.body]
    while stack:
        lst = stack.pop()
        for item in lst.items:
            for pipe in item.command.pipelines:
                for cmd in pipe.commands:
                    if isinstance(cmd, SimpleCommand):
                        for a in cmd.assignments:
                            yield a.word
                        yield from cmd.words
                    else:
                        stack.append(cmd.body)
                    for r in cmd.redirects:
                        yield r.target
