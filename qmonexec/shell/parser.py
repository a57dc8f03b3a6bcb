"""Recursive-descent parser from tokens to the AST of :mod:`qmonexec.shell.nodes`.

Grammar (the POSIX XCU 2.10 subset qmonexec needs)::

    script    := linebreak list linebreak EOF
    list      := and_or ((';' | '&' | NEWLINE) linebreak and_or)* [';' | '&']
    and_or    := pipeline (('&&' | '||') linebreak pipeline)*
    pipeline  := ['!'] command ('|' linebreak command)*
    command   := '{' list '}' redirect* | '(' list ')' redirect* | simple
    simple    := (assignment | redirect)* [word (word | redirect)*]
    redirect  := [fd] op word

``{``, ``}`` and ``!`` are reserved words only as an unquoted word on its own
in command position.  Other reserved words (``if``, ``while``, ``case``,
``[[``, ...) are reported as ``reserved-word`` and otherwise treated as plain
words; here-documents are refused.  Groups nest at most :data:`MAX_DEPTH`
deep.  :func:`parse` never raises on bad input: it reports one finding and
returns ``None``.
"""

from __future__ import annotations

__all__ = ["MAX_COMMANDS", "MAX_DEPTH", "RESERVED_WORDS", "parse", "parse_text"]

import re

from .findings import Code, Reporter
from .grammar import RESERVED_WORDS
from .lexer import lex
from .nodes import (
    AndOr,
    Assignment,
    BraceGroup,
    Command,
    CommandList,
    ListItem,
    Lit,
    Pipeline,
    Redirect,
    Script,
    SimpleCommand,
    Subshell,
    Word,
)
from .tokens import Kind, Pos, Token

#: Deepest nesting of ``{ }`` and ``( )`` accepted.
MAX_DEPTH = 50

# Kind.X is an enum class attribute: ~100 ns per lookup in Python 3.11, against a few ns
# for a module global, and the parser looks kinds up for every token.
_EOF, _NEWLINE, _OPERATOR, _REDIRECT, _WORD = (
    Kind.EOF, Kind.NEWLINE, Kind.OPERATOR, Kind.REDIRECT, Kind.WORD
)

#: Most commands (simple commands and groups) in one string; the largest
#: shape qmonexec renders has nine.
MAX_COMMANDS = 64

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


class ParseError(Exception):
    """Internal: stops parsing; :func:`parse` turns it into one finding."""

    def __init__(self, code: Code, offset: int, message: str, length: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.offset = offset
        self.message = message
        self.length = length


def _describe(tok: Token) -> str:
    if tok.kind is _EOF:
        return "the end of the string"
    if tok.kind is _NEWLINE:
        return "a newline"
    return repr(tok.value)


def assignment_name(word: Word) -> str | None:
    """The variable name if ``word`` has the form of an assignment (``NAME=...``)."""
    first = word.parts[0] if word.parts else None
    if type(first) is Lit:
        m = _ASSIGNMENT.match(first.text)
        if m is not None:
            return m.group()[:-1]
    return None


class _Parser:
    __slots__ = ("count", "depth", "i", "rep", "toks")

    def __init__(self, toks: list[Token], rep: Reporter) -> None:
        self.toks = toks
        self.i = 0
        self.rep = rep
        self.depth = 0
        self.count = 0

    def _peek(self) -> Token:
        return self.toks[self.i]

    def _skip_newlines(self) -> None:
        toks = self.toks
        while toks[self.i].kind is _NEWLINE:
            self.i += 1

    def _unexpected(self, tok: Token, expected: str) -> ParseError:
        return ParseError(
            Code.SYNTAX_ERROR,
            tok.pos.offset,
            f"syntax error: expected {expected}, found {_describe(tok)}; "
            "the shell would refuse the whole string",
            max(tok.end - tok.pos.offset, 1),
        )

    def script(self) -> Script:
        self._skip_newlines()
        tok = self._peek()
        if tok.kind is _EOF:
            raise ParseError(
                Code.EMPTY_COMMAND,
                tok.pos.offset,
                "the string holds no command: give the command QEMU should run",
            )
        body = self.command_list(None)
        tok = self._peek()
        if tok.kind is not _EOF:
            raise self._unexpected(tok, "a command or the end of the string")
        return Script(Pos(0, 1, 1), body)

    def _at_list_end(self, tok: Token, closer: str | None) -> bool:
        kind = tok.kind
        if kind is _EOF:
            return True
        if kind is _OPERATOR:
            return tok.value == ")"
        if kind is _WORD and closer == "}":
            assert tok.word is not None
            return tok.word.literal_text() == "}"
        return False

    def command_list(self, closer: str | None) -> CommandList:
        items: list[ListItem] = []
        start = self._peek().pos
        while True:
            self._skip_newlines()
            tok = self._peek()
            if self._at_list_end(tok, closer):
                break
            ao = self.and_or(closer)
            tok = self._peek()
            if tok.kind is _OPERATOR and (tok.value == ";" or tok.value == "&"):
                self.i += 1
                items.append(ListItem(ao.pos, ao, tok.value, tok.pos))
            elif tok.kind is _NEWLINE:
                self.i += 1
                items.append(ListItem(ao.pos, ao, ";", tok.pos))
            else:
                items.append(ListItem(ao.pos, ao))
                break
        if not items:
            raise self._unexpected(self._peek(), "a command")
        return CommandList(start, items)

    def and_or(self, closer: str | None) -> AndOr:
        first = self.pipeline(closer)
        node = AndOr(first.pos, [first])
        toks = self.toks
        while True:
            tok = toks[self.i]
            if tok.kind is _OPERATOR and (tok.value == "&&" or tok.value == "||"):
                self.i += 1
                self._skip_newlines()
                node.ops.append(tok.value)
                node.op_positions.append(tok.pos)
                node.pipelines.append(self.pipeline(closer))
            else:
                return node

    def pipeline(self, closer: str | None) -> Pipeline:
        tok = self._peek()
        negated = False
        if tok.kind is _WORD:
            assert tok.word is not None
            if tok.word.literal_text() == "!":
                negated = True
                self.i += 1
        node = Pipeline(tok.pos, [self.command(closer)], negated)
        toks = self.toks
        while True:
            tok = toks[self.i]
            if tok.kind is _OPERATOR and tok.value == "|":
                self.i += 1
                self._skip_newlines()
                node.commands.append(self.command(closer))
            else:
                return node

    def command(self, closer: str | None) -> Command:
        tok = self._peek()
        self.count += 1
        self.rep.budget.spend()
        if self.count > MAX_COMMANDS:
            raise ParseError(
                Code.TOO_MANY_COMMANDS,
                tok.pos.offset,
                f"the string holds more than {MAX_COMMANDS} commands, far more than any "
                "shape qmonexec accepts: split it up or simplify it",
            )
        if tok.kind is _WORD:
            assert tok.word is not None
            lit = tok.word.literal_text()
            if lit == "{":
                return self._group(tok, "}")
            if lit == "}":
                raise self._unexpected(tok, "a command")
        elif tok.kind is _OPERATOR and tok.value == "(":
            return self._group(tok, ")")
        return self.simple(tok)

    def _group(self, tok: Token, closer: str) -> Command:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(
                Code.TOO_DEEP,
                tok.pos.offset,
                f"groups are nested more than {MAX_DEPTH} deep: simplify the command",
            )
        self.i += 1
        body = self.command_list(closer)
        end = self._peek()
        if closer == "}":
            ok = end.kind is _WORD and end.word is not None and end.word.literal_text() == "}"
        else:
            ok = end.kind is _OPERATOR and end.value == ")"
        if not ok:
            line, col = tok.pos.line, tok.pos.column
            raise self._unexpected(
                end, f"';' or a newline and then {closer!r} to close the group at {line}:{col}"
            )
        self.i += 1
        self.depth -= 1
        redirects: list[Redirect] = []
        while self._peek().kind is _REDIRECT:
            redirects.append(self.redirect())
        if closer == "}":
            return BraceGroup(tok.pos, body, redirects)
        return Subshell(tok.pos, body, redirects)

    def simple(self, first: Token) -> SimpleCommand:
        cmd = SimpleCommand(first.pos)
        toks = self.toks
        words = cmd.words
        while True:
            tok = toks[self.i]
            kind = tok.kind
            if kind is _WORD:
                word = tok.word
                assert word is not None
                if not words:
                    name = assignment_name(word)
                    if name is not None:
                        cmd.assignments.append(Assignment(tok.pos, name, word))
                        self.i += 1
                        continue
                    if tok is first:
                        lit = word.literal_text()
                        if lit is not None and lit in RESERVED_WORDS:
                            self.rep.add(
                                Code.RESERVED_WORD,
                                tok.pos.offset,
                                f"{lit!r} in command position is a reserved word (part of a "
                                "compound command) in some shells: quote it if it names a "
                                "program, or remove it",
                                length=len(lit),
                            )
                words.append(word)
                self.i += 1
            elif kind is _REDIRECT:
                cmd.redirects.append(self.redirect())
            else:
                break
        if not words and not cmd.assignments and not cmd.redirects:
            raise self._unexpected(toks[self.i], "a command")
        return cmd

    def redirect(self) -> Redirect:
        tok = self._peek()
        if tok.value == "<<" or tok.value == "<<-":
            raise ParseError(
                Code.SYNTAX_ERROR,
                tok.pos.offset,
                "here-documents are not supported by the validator: read from a file with '<'",
                len(tok.value),
            )
        self.i += 1
        target = self._peek()
        if target.kind is not _WORD:
            raise self._unexpected(target, f"a file name after {tok.value!r}")
        self.i += 1
        assert target.word is not None
        return Redirect(tok.pos, tok.fd, tok.value, target.word)


def parse(tokens: list[Token], reporter: Reporter) -> Script | None:
    """Parse ``tokens`` (from :func:`~qmonexec.shell.lexer.lex`) into a :class:`Script`.

    Returns ``None`` after adding one finding to ``reporter`` when the tokens
    do not form a script of the supported grammar.
    """
    try:
        return _Parser(tokens, reporter).script()
    except ParseError as exc:
        reporter.add(exc.code, exc.offset, exc.message, length=exc.length)
        return None


def parse_text(text: str) -> tuple[Script | None, Reporter]:
    """Lex and parse ``text``; return the script (or ``None``) and every finding so far."""
    reporter = Reporter()
    return parse(lex(text, reporter), reporter), reporter
