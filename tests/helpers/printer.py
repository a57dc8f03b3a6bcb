"""Print an AST back to canonical shell text (a test helper for the parser).

The package never prints an AST (``explain`` shows the argv and
redirections of the verdict); the parser's round-trip tests use this.

Canonical form: one space between words, ``cmd1 | cmd2``, ``a && b``,
``a; b`` (newline separators become ``;``), ``a & b``, ``{ list; }``,
``( list )``, redirections after the words as ``[fd]op target`` with no blank
in between; words keep their quoting parts exactly (line continuations and
comments are gone).  ``parse(print(ast))`` gives back ``ast`` up to
positions: see :func:`structure`.
"""

from __future__ import annotations

__all__ = ["print_script", "print_word", "structure"]

from typing import Any

from qmonexec.shell.grammar import RESERVED_WORDS
from qmonexec.shell.nodes import (
    AndOr,
    BraceGroup,
    Command,
    CommandList,
    DblQuoted,
    Escaped,
    Expansion,
    Lit,
    Part,
    Pipeline,
    Redirect,
    Script,
    SglQuoted,
    SimpleCommand,
    Word,
)


def _part(part: Part, out: list[str]) -> None:
    if isinstance(part, Lit):
        out.append(part.text)
    elif isinstance(part, SglQuoted):
        out.append("'" + part.text + ("'" if part.closed else ""))
    elif isinstance(part, Escaped):
        out.append("\\" + part.char)
    elif isinstance(part, Expansion):
        out.append(part.raw)
    else:
        out.append('"')
        for inner in part.parts:
            _part(inner, out)
        if part.closed:
            out.append('"')


def print_word(word: Word) -> str:
    """The source text of ``word`` from its parts (without line continuations)."""
    out: list[str] = []
    for part in word.parts:
        _part(part, out)
    return "".join(out)


_RESERVED = RESERVED_WORDS | {"{", "}", "!"}


def _ends_in_backslash(word: Word) -> bool:
    """Whether ``word`` ends in an unquoted lone backslash (only possible at the end of input)."""
    parts = word.parts
    return bool(parts) and type(parts[-1]) is Lit and parts[-1].text.endswith("\\")


def _redirect(r: Redirect) -> str:
    return f"{'' if r.fd is None else r.fd}{r.op}{print_word(r.target)}"


def _command(cmd: Command) -> str:
    if isinstance(cmd, SimpleCommand):
        words = [print_word(a.word) for a in cmd.assignments]
        redirects = [_redirect(r) for r in cmd.redirects]
        tail = cmd.words[-1] if cmd.words else cmd.assignments[-1].word if cmd.assignments else None
        if tail is not None and _ends_in_backslash(tail):
            # a bare backslash can only end the input: nothing may be printed after it
            return " ".join(redirects + words + [print_word(w) for w in cmd.words])
        first = cmd.words[0].literal_text() if cmd.words else None
        if not cmd.assignments and first is not None and (first in _RESERVED):
            # after a redirection, '{' '}' '!' and reserved words are plain words
            words += redirects
            redirects = []
        words += [print_word(w) for w in cmd.words]
        return " ".join(words + redirects)
    body = _list(cmd.body)
    if isinstance(cmd, BraceGroup):
        text = "{ " + body + ("" if body.endswith(("&", ";")) else ";") + " }"
    else:
        text = "( " + body + " )"
    for r in cmd.redirects:
        text += " " + _redirect(r)
    return text


def _pipeline(pipe: Pipeline) -> str:
    text = " | ".join(_command(c) for c in pipe.commands)
    return "! " + text if pipe.negated else text


def _and_or(ao: AndOr) -> str:
    out = [_pipeline(ao.pipelines[0])]
    for op, pipe in zip(ao.ops, ao.pipelines[1:], strict=True):
        out.append(op)
        out.append(_pipeline(pipe))
    return " ".join(out)


def _list(lst: CommandList) -> str:
    out: list[str] = []
    for item in lst.items:
        sep = " &" if item.sep == "&" else item.sep or ""
        out.append(_and_or(item.command) + sep)
    return " ".join(out)


def print_script(script: Script) -> str:
    """The canonical text of ``script``."""
    return _list(script.body)


def structure(node: Any) -> Any:
    """``node`` as nested tuples without positions, for comparing ASTs.

    Adjacent unquoted literal parts are merged (a line continuation splits
    them in the source, printing joins them).
    """
    if isinstance(node, list):
        return tuple(structure(n) for n in node)
    if isinstance(node, Word):
        parts: list[Any] = []
        for p in node.parts:
            s = structure(p)
            if isinstance(p, Lit) and parts and parts[-1][0] == "Lit":
                parts[-1] = ("Lit", parts[-1][1] + p.text)
            else:
                parts.append(s)
        return ("Word", tuple(parts))
    if isinstance(node, DblQuoted):
        inner: list[Any] = []
        for p in node.parts:
            s = structure(p)
            if isinstance(p, Lit) and inner and inner[-1][0] == "Lit":
                inner[-1] = ("Lit", inner[-1][1] + p.text)
            else:
                inner.append(s)
        return ("DblQuoted", tuple(inner), node.closed)
    if hasattr(node, "__slots__") and hasattr(node, "pos"):
        fields = [f for f in node.__slots__ if f not in ("pos", "end", "op_positions", "sep_pos")]
        return (type(node).__name__, *(structure(getattr(node, f)) for f in fields))
    return node
