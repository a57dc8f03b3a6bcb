"""Single-pass lexer: POSIX XCU 2.3 token recognition for the subset qmonexec needs.

:func:`lex` turns a ``sh -c`` string into :class:`~qmonexec.shell.tokens.Token`
objects.  Words keep their quoting as parts (see :mod:`qmonexec.shell.nodes`);
expansions (``$x``, ``${...}``, ``$(...)``, backquotes, ``$((...))``,
``$'...'``, ``$"..."``, ``$[...]``) are recognised and their extent found with
an iterative scanner, so they can be reported, never evaluated.

The lexer follows POSIX; where bash, zsh or ksh read the same characters
differently (``&>``, ``|&``, ``<<<``, ``<(``, ``((``, ``>!``, ...), it
tokenizes the POSIX way and reports ``non-posix-operator``.  It never raises on
input: problems (unterminated quotes, comments, line continuations,
here-documents, multi-digit fd prefixes) go to the :class:`Reporter`.

Time is linear in the input: literal runs are matched with single character
classes (no backtracking) and every character is visited a bounded number of
times.
"""

from __future__ import annotations

__all__ = ["MAX_OPERATORS", "lex"]

import re
from collections.abc import Callable

from .findings import Code, Reporter
from .nodes import DblQuoted, Escaped, Expansion, ExpKind, Lit, Part, SglQuoted, Word
from .tokens import Kind, Token, positioner

_WORD_RUN = re.compile(r"[^ \t\n|&;<>()$`'\"\\]+")
# The common tokens in one match, after blanks: (1) a whole word that is one
# unquoted literal run (not a comment, not a possible fd prefix) ending where a
# token must end, or (2) '&&', '||', '|' or ';' that nothing after it (another
# operator character, a line continuation) could change.  Anything else takes
# the general path in _Lexer.run, which gives the same tokens for these.
_PLAIN = re.compile(
    r"[ \t]*(?:([^ \t\n|&;<>()$`'\"\\#0-9][^ \t\n|&;<>()$`'\"\\]*)(?=[ \t\n|&;<>()]|\Z)"
    r"|(&&|\|\||\|(?![|&\\])|;(?![;&|\\])))"
)
_DQ_RUN = re.compile(r'[^"$`\\]+')
_NAME_RUN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")
_NEWLINES = re.compile(r"\n[ \t\n]*")
_ZSH_RANGE = re.compile(r"<[0-9]*-[0-9]*>")

# Kind.X is an enum class attribute: ~100 ns per lookup in Python 3.11, against a few ns
# for a module global, and the lexer looks kinds up for every token.
_EOF, _NEWLINE, _OPERATOR, _REDIRECT, _WORD = (
    Kind.EOF, Kind.NEWLINE, Kind.OPERATOR, Kind.REDIRECT, Kind.WORD
)

_BREAK = " \t\n|&;<>()"

#: The lexer stops after this many control and redirection operators (the
#: largest accepted shape has about twenty).
MAX_OPERATORS = 256
_OPCHARS = "|&;<>()"
_SPECIAL_PARAMS = "0123456789@*#?-$!"


class _Lexer:
    __slots__ = ("n", "pos", "rep", "text")

    def __init__(self, text: str, rep: Reporter) -> None:
        self.text = text
        self.n = len(text)
        self.rep = rep
        self.pos = positioner(text)

    # -- helpers -------------------------------------------------------

    def _continuation(self, i: int) -> None:
        self.rep.add(
            Code.LINE_CONTINUATION,
            i,
            "a backslash before a newline joins the two lines, so the text on the next line "
            "belongs to this one without being visible as such: put the string on one line",
            length=2,
        )

    def _skip_cont(self, j: int) -> int:
        text = self.text
        while text.startswith("\\\n", j):
            self._continuation(j)
            j += 2
        return j

    def _non_posix(self, i: int, op: str, meaning: str, length: int = 2) -> None:
        self.rep.add(
            Code.NON_POSIX_OPERATOR,
            i,
            f"{op!r} {meaning}; POSIX shells read it differently: "
            "remove it, or quote the characters if they are meant literally",
            length=length,
        )

    # -- tokens --------------------------------------------------------

    def run(self) -> list[Token]:
        text = self.text
        n = self.n
        pos = self.pos
        toks: list[Token] = []
        append = toks.append
        rep_full = self.rep.full
        operators = 0
        word_kind = _WORD
        op_kind = _OPERATOR
        plain = _PLAIN.match
        i = 0
        while True:
            m = plain(text, i)
            if m is not None and not rep_full():
                run = m.group(1)
                if run is not None:
                    start, i = m.span(1)
                    p = pos(start)
                    append(Token(word_kind, run, p, i, Word(p, i, [Lit(p, run)])))
                    continue
                if operators < MAX_OPERATORS:
                    operators += 1
                    start, i = m.span(2)
                    append(Token(op_kind, m.group(2), pos(start), i))
                    continue
            while i < n:
                c = text[i]
                if c == " " or c == "\t":
                    i += 1
                elif c == "\\" and text.startswith("\n", i + 1):
                    self._continuation(i)
                    i += 2
                else:
                    break
            if i >= n or rep_full():
                append(Token(_EOF, "", pos(i), i))
                return toks
            c = text[i]
            if c == "\n":
                # a run of newlines and blanks is one token: the grammar
                # treats it like a single newline
                m = _NEWLINES.match(text, i)
                assert m is not None
                append(Token(_NEWLINE, "\n", pos(i), m.end()))
                i = m.end()
            elif c == "#":
                i = self._comment(i)
            elif c in _OPCHARS:
                operators += 1
                if operators > MAX_OPERATORS:
                    self.rep.add(
                        Code.TOO_MANY_COMMANDS,
                        i,
                        f"more than {MAX_OPERATORS} operators: no shape qmonexec accepts has "
                        "that many commands; the rest of the string was not analysed",
                    )
                    append(Token(_EOF, "", pos(i), i))
                    return toks
                i = self._operator(i, i, None, append)
            elif "0" <= c <= "9" and (j := self._fd_prefix(i)) is not None:
                i = self._operator(j, i, int(text[i:j]), append)
            else:
                i = self._word_token(i, append)

    def _comment(self, i: int) -> int:
        """Report the comment starting at ``i``; return the offset of the line's end."""
        j = self.text.find("\n", i)
        if j < 0:
            j = self.n
        self.rep.add(
            Code.COMMENT,
            i,
            "'#' at the start of a word begins a comment: the shell ignores everything "
            "up to the end of the line; remove the comment, or quote the '#' "
            "if it is part of an argument",
            length=j - i,
        )
        return j

    def _fd_prefix(self, i: int) -> int | None:
        """Where the redirection operator after the digits at ``i`` starts, or ``None``."""
        text = self.text
        m = _DIGITS.match(text, i)
        assert m is not None
        j = m.end()
        if j >= self.n or text[j] not in "<>":
            return None
        digits = m.group()
        if len(digits) > 1:
            self.rep.add(
                Code.FD_NUMBER,
                i,
                f"the fd prefix {digits!r} has more than one digit: dash and "
                f"posh read {digits!r} as an argument and redirect fd "
                f"{'0' if text[j] == '<' else '1'} instead; use a one-digit fd",
                length=len(digits),
            )
        return j

    def _word_token(self, start: int, append: Callable[[Token], None]) -> int:
        """Append the word token starting at ``start``; return the offset after it."""
        text = self.text
        m = _WORD_RUN.match(text, start)
        if m is not None and (m.end() == self.n or text[m.end()] in _BREAK):
            # the common case: one unquoted literal run
            i = m.end()
            p = self.pos(start)
            run = m.group()
            append(Token(_WORD, run, p, i, Word(p, i, [Lit(p, run)])))
            return i
        word, i = self._word(start)
        append(Token(_WORD, text[start:i], word.pos, i, word))
        return i

    def _operator(
        self, i: int, start: int, fd: int | None, append: Callable[[Token], None]
    ) -> int:
        text = self.text
        n = self.n
        c = text[i]
        j = self._skip_cont(i + 1)
        c2 = text[j] if j < n else ""
        kind = _OPERATOR
        op = c
        end = i + 1
        if c == "|":
            if c2 == "|":
                op, end = "||", j + 1
            elif c2 == "&":
                self._non_posix(i, "|&", "pipes stderr too in bash and zsh (a coprocess in ksh)")
        elif c == "&":
            if c2 == "&":
                op, end = "&&", j + 1
            elif c2 == ">":
                self._non_posix(i, "&>", "redirects stdout and stderr in bash and zsh, "
                                "but runs the command in the background in POSIX shells")
            elif c2 == "|" or c2 == "!":
                self._non_posix(i, "&" + c2, "disowns a background job in zsh")
        elif c == ";":
            if c2 == ";":
                op, end = ";;", j + 1
            elif c2 == "&" or c2 == "|":
                self._non_posix(i, ";" + c2, "ends a case branch in bash, ksh or zsh")
        elif c == "(":
            if c2 == "(":
                self._non_posix(i, "((", "starts an arithmetic command in bash, ksh and zsh")
        elif c == ")":
            pass
        else:
            kind = _REDIRECT
            if c == "<":
                if c2 == "<":
                    k = self._skip_cont(j + 1)
                    c3 = text[k] if k < n else ""
                    if c3 == "-":
                        op, end = "<<-", k + 1
                    else:
                        op, end = "<<", j + 1
                        if c3 == "<":
                            self._non_posix(i, "<<<", "is a here-string in bash, ksh and zsh",
                                            length=3)
                    self.rep.add(
                        Code.HERE_DOCUMENT,
                        i,
                        f"{op!r} starts a here-document, whose body follows on later lines; "
                        "qmonexec never produces one: feed input from a file with '<' instead",
                        length=len(op),
                    )
                elif c2 == "&":
                    op, end = "<&", j + 1
                elif c2 == ">":
                    op, end = "<>", j + 1
                elif c2 == "(":
                    self._non_posix(i, "<(", "is process substitution in bash, ksh and zsh")
                elif _ZSH_RANGE.match(text, i):
                    self._non_posix(i, "<N-M>", "is a numeric glob in zsh")
            else:  # ">"
                if c2 == ">":
                    op, end = ">>", j + 1
                elif c2 == "|":
                    op, end = ">|", j + 1
                elif c2 == "&":
                    op, end = ">&", j + 1
                elif c2 == "(":
                    self._non_posix(i, ">(", "is process substitution in bash, ksh and zsh")
                elif c2 == "!":
                    self._non_posix(i, ">!", "overrides noclobber in zsh, where the '!' is no "
                                    "part of the file name")
        append(Token(kind, op, self.pos(start), end, None, fd))
        return end

    # -- words ---------------------------------------------------------

    def _word(self, i: int) -> tuple[Word, int]:
        text = self.text
        n = self.n
        pos = self.pos
        start = i
        parts: list[Part] = []
        append = parts.append
        while i < n:
            c = text[i]
            if c in _BREAK:
                break
            if c == "'":
                j = text.find("'", i + 1)
                if j < 0:
                    self._unterminated(i, "'")
                    append(SglQuoted(pos(i), text[i + 1 :], False))
                    i = n
                else:
                    append(SglQuoted(pos(i), text[i + 1 : j]))
                    i = j + 1
            elif c == '"':
                dq, i = self._dquote(i)
                append(dq)
            elif c == "\\":
                if i + 1 >= n:
                    self.rep.add(
                        Code.UNQUOTED_SPECIAL,
                        i,
                        "a backslash ends the string; shells disagree on what it means: remove it",
                    )
                    append(Lit(pos(i), "\\"))
                    i += 1
                elif text[i + 1] == "\n":
                    self._continuation(i)
                    i += 2
                else:
                    append(Escaped(pos(i), text[i + 1]))
                    i += 2
            elif c == "$":
                exp, i = self._dollar(i, False)
                append(exp)
            elif c == "`":
                exp, i = self._backquote(i)
                append(exp)
            else:
                m = _WORD_RUN.match(text, i)
                assert m is not None
                append(Lit(pos(i), m.group()))
                i = m.end()
        return Word(pos(start), i, parts), i

    def _unterminated(self, i: int, quote: str) -> None:
        self.rep.add(
            Code.UNTERMINATED_QUOTE,
            i,
            f"this {quote} is never closed, so the rest of the string is one quoted word "
            "(and the shell reports a syntax error): close the quote",
            length=self.n - i,
        )

    def _dquote(self, i: int) -> tuple[DblQuoted, int]:
        text = self.text
        n = self.n
        pos = self.pos
        parts: list[Part] = []
        append = parts.append
        j = i + 1
        while True:
            m = _DQ_RUN.match(text, j)
            if m is not None:
                append(Lit(pos(j), m.group()))
                j = m.end()
            if j >= n:
                self._unterminated(i, '"')
                return DblQuoted(pos(i), parts, False), n
            c = text[j]
            if c == '"':
                return DblQuoted(pos(i), parts), j + 1
            if c == "\\":
                d = text[j + 1] if j + 1 < n else ""
                if d == "\n":
                    self._continuation(j)
                    j += 2
                elif d and d in '$`"\\':
                    append(Escaped(pos(j), d))
                    j += 2
                else:
                    append(Lit(pos(j), "\\"))
                    j += 1
            elif c == "$":
                exp, j = self._dollar(j, True)
                append(exp)
            else:
                exp, j = self._backquote(j)
                append(exp)

    def _dollar(self, i: int, in_dq: bool) -> tuple[Expansion, int]:
        text = self.text
        n = self.n
        j = i + 1
        c = text[j] if j < n else ""
        closed = True
        if c == "{":
            kind = ExpKind.PARAMETER
            end, closed = self._scan(j + 1, ["}"])
        elif c == "(":
            if text.startswith("(", j + 1):
                kind = ExpKind.ARITHMETIC
                end, closed = self._scan(j + 2, [")", ")"])
            else:
                kind = ExpKind.COMMAND
                end, closed = self._scan(j + 1, [")"])
        elif c == "'" and not in_dq:
            kind = ExpKind.DOLLAR_SINGLE
            k = j + 1
            end = -1
            while k < n:
                d = text[k]
                if d == "\\":
                    k += 2
                elif d == "'":
                    end = k + 1
                    break
                else:
                    k += 1
            if end < 0:
                end, closed = n, False
        elif c == '"' and not in_dq:
            kind = ExpKind.DOLLAR_DOUBLE
            _dq, end = self._dquote(j)
        elif c == "[":
            kind = ExpKind.ARITHMETIC
            end, closed = self._scan(j + 1, ["]"])
        elif c == "_" or (c.isascii() and c.isalpha()):
            kind = ExpKind.PARAMETER
            m = _NAME_RUN.match(text, j)
            assert m is not None
            end = m.end()
        elif c and c in _SPECIAL_PARAMS:
            kind = ExpKind.PARAMETER
            end = j + 1
        else:
            kind = ExpKind.LONE_DOLLAR
            end = j
        if not closed:
            self.rep.add(
                Code.UNTERMINATED_EXPANSION,
                i,
                f"the expansion starting with {text[i:i + 2]!r} is never closed: "
                "the shell reports a syntax error; remove it",
                length=n - i,
            )
        return Expansion(self.pos(i), kind, text[i:end], closed), end

    def _backquote(self, i: int) -> tuple[Expansion, int]:
        end, closed = self._scan(i + 1, ["`"])
        if not closed:
            self.rep.add(
                Code.UNTERMINATED_EXPANSION,
                i,
                "this backquote is never closed: the shell reports a syntax error; remove it",
                length=self.n - i,
            )
        return Expansion(self.pos(i), ExpKind.BACKQUOTE, self.text[i:end], closed), end

    def _scan(self, j: int, stack: list[str]) -> tuple[int, bool]:
        """Find the end of a nested construct; ``stack`` holds the closers still expected.

        Approximate on purpose (the construct is reported and refused whatever
        its extent), but iterative and linear.
        """
        text = self.text
        n = self.n
        while j < n:
            c = text[j]
            top = stack[-1]
            if c == "\\":
                j += 2
                continue
            if top == '"':
                if c == '"':
                    stack.pop()
                elif c == "$" and j + 1 < n and text[j + 1] in "({[":
                    stack.append({"(": ")", "{": "}", "[": "]"}[text[j + 1]])
                    j += 1
                elif c == "`":
                    stack.append("`")
            elif top == "`":
                if c == "`":
                    stack.pop()
            elif c == top:
                stack.pop()
            elif c == "'":
                k = text.find("'", j + 1)
                if k < 0:
                    return n, False
                j = k
            elif c == '"' or c == "`":
                stack.append(c)
            elif c == "(":
                stack.append(")")
            elif c == "$" and j + 1 < n and text[j + 1] in "{[":
                stack.append("}" if text[j + 1] == "{" else "]")
                j += 1
            j += 1
            if not stack:
                return j, True
        return n, False


def lex(text: str, reporter: Reporter) -> list[Token]:
    """Tokenize ``text`` (a ``sh -c`` string); the last token is always :attr:`_EOF`.

    Problems found on the way are added to ``reporter``; this never raises.
    """
    return _Lexer(text, reporter).run()
