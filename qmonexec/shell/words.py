"""Word semantics: the value after quote removal, and every non-literal place.

:func:`analyze_word` decodes one :class:`~qmonexec.shell.nodes.Word` and
reports each place where some shell would do something other than take the
word literally: expansions in any quoting context, unquoted glob characters,
tilde and ``=`` expansion, brace expansion, zsh's special characters, the
Bourne shell's ``^`` pipe, and the zsh trap that empty quotes before a
special character do not protect it.

:func:`scan_characters` covers the whole string once for NUL, control
characters and non-ASCII text.  Inside single quotes every byte 0x01-0xFF
means exactly itself in every common ``/bin/sh`` (docs/reference.md, shell quoting), so
there valid UTF-8 text and control characters other than NUL are *warnings*
(``non-ascii``: yash in the C locale runs nothing; ``control-character``:
invisible in review).  Unquoted, inside double quotes or after a backslash
they stay errors, and so do bytes that are not UTF-8 (surrogate escapes),
which QMP cannot carry.  :meth:`Policy.strict_text
<qmonexec.shell.policy.Policy.strict_text>` turns the warnings into errors.

The safe set (docs/reference.md, shell quoting) is ``A-Z a-z 0-9 _ . / : @ % + , -``;
``=`` is safe except at the start of a word.  Everything else must be quoted,
and single quotes are the only quoting qmonexec produces.
"""

from __future__ import annotations

__all__ = [
    "SAFE_CHARS",
    "WordInfo",
    "analyze_word",
    "scan_characters",
]

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from .findings import Code, Reporter, Severity
from .nodes import DblQuoted, Escaped, Expansion, ExpKind, Lit, SglQuoted, Word

#: Characters every measured shell takes literally when unquoted, anywhere.
SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,-")

_SAFE_RUN = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")
# Characters reported wherever they are (tab and newline are separators when
# unquoted; inside quotes the word analysis reports them).
_ODD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|[^\x00-\x7f]+")
_QUOTED_BLANK = re.compile(r"[\t\n]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ASCII_CONTROL_NAMES = {"\t": "tab", "\n": "newline", "\r": "carriage return", "\x1b": "escape",
                        "\x7f": "delete"}  # fmt: skip

_FIX = "put the whole word in single quotes"


@dataclass(slots=True)
class WordInfo:
    """The analysis of one word.

    ``value`` is the word after quote removal (an expansion stays as its
    source text); ``literal`` is true when every shell takes the word exactly
    as ``value``.
    """

    value: str
    literal: bool

    @property
    def value_bytes(self) -> bytes:
        """``value`` as the bytes the shell sees (UTF-8, surrogate escapes restored)."""
        return self.value.encode("utf-8", "surrogateescape")


_EXPANSION_CODES = {
    ExpKind.PARAMETER: Code.PARAMETER_EXPANSION,
    ExpKind.COMMAND: Code.COMMAND_SUBSTITUTION,
    ExpKind.BACKQUOTE: Code.COMMAND_SUBSTITUTION,
    ExpKind.ARITHMETIC: Code.ARITHMETIC_EXPANSION,
    ExpKind.DOLLAR_SINGLE: Code.DOLLAR_SINGLE_QUOTE,
    ExpKind.DOLLAR_DOUBLE: Code.DOLLAR_DOUBLE_QUOTE,
    ExpKind.LONE_DOLLAR: Code.DOLLAR_SIGN,
}


def _shorten(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:37] + "..."


def _report_expansion(exp: Expansion, rep: Reporter, quoted: bool) -> None:
    kind = exp.kind
    raw = _shorten(exp.raw)
    where = " (double quotes do not stop it)" if quoted else ""
    if kind is ExpKind.PARAMETER:
        what = f"{raw!r} expands a shell parameter at run time{where}, so the command depends on "
        what += "QEMU's environment: write the value itself, in single quotes"
    elif kind is ExpKind.COMMAND or kind is ExpKind.BACKQUOTE:
        what = f"{raw!r} runs a command and pastes its output{where}: remove it; if the text is "
        what += "meant literally, put it in single quotes"
    elif kind is ExpKind.ARITHMETIC:
        what = f"{raw!r} is arithmetic expansion{where}: write the number itself"
    elif kind is ExpKind.DOLLAR_SINGLE:
        what = f"{raw!r} decodes escapes in bash, ksh, mksh and zsh but is a '$' and a quoted "
        what += "string in dash, yash and posh: use plain single quotes"
    elif kind is ExpKind.DOLLAR_DOUBLE:
        what = f"{raw!r} is translated through the locale in bash and ksh but is a '$' and a "
        what += "quoted string elsewhere: use plain single quotes"
    else:
        what = "a '$' that starts no expansion: most shells keep it, but POSIX leaves it "
        what += "unspecified; put it inside single quotes"
    rep.add(_EXPANSION_CODES[kind], exp.pos.offset, what, length=len(exp.raw))


def _report_quoted_blanks(text: str, offset: int, rep: Reporter, single: bool = False) -> None:
    for m in _QUOTED_BLANK.finditer(text):
        name = "a tab" if m.group() == "\t" else "a newline"
        if single:
            rep.add(
                Code.CONTROL_CHARACTER,
                offset + m.start(),
                f"{name} inside single quotes is part of the word, exactly, in every shell, "
                "but invisible in review: make sure it is meant",
                severity=Severity.WARNING,
                shells=(),
            )
        else:
            rep.add(
                Code.CONTROL_CHARACTER,
                offset + m.start(),
                f"{name} inside double quotes or after a backslash is invisible in review: "
                "remove it from the value, or put the whole word in single quotes",
            )


def _unhandled(part: object, rep: Reporter) -> None:
    """A word part of a kind this analysis does not know proves nothing: an error."""
    offset = getattr(getattr(part, "pos", None), "offset", 0)
    rep.add(
        Code.UNHANDLED_CONSTRUCT,
        offset if isinstance(offset, int) else 0,
        f"a word part of kind {type(part).__name__} that the analysis does not handle: "
        "it is not proven safe; write the word as plain text in single quotes",
    )


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def analyze_word(word: Word, rep: Reporter) -> WordInfo:
    """Decode ``word`` and report every place a shell would not take it literally.

    Findings go to ``rep`` with offsets into the analysed string.  NUL,
    control characters other than tab and newline, and non-ASCII text are
    not reported here (see :func:`scan_characters`).  The word is
    ``literal`` when no error was found in it and every character outside
    single quotes is printable ASCII.
    """
    parts = word.parts
    if len(parts) == 1:
        part = parts[0]
        if type(part) is Lit:
            text = part.text
            if text[0] != "=" and _SAFE_RUN.fullmatch(text) is not None:
                return WordInfo(text, True)
    errors_before = rep.errors
    rep.budget.spend(len(parts))
    pieces: list[str] = []
    literal = True
    content = False  # has anything (text or expansion) come before?
    empty_quotes = False  # only empty quotes so far?
    prev = ""  # previous unquoted character, for '~' after '=' or ':'
    braces: list[tuple[str, int]] = []
    for part in parts:
        t = type(part)
        if t is Lit:
            assert isinstance(part, Lit)
            text = part.text
            base = part.pos.offset
            if _SAFE_RUN.fullmatch(text) is None or (not content and text[0] == "="):
                _unquoted(text, base, content, empty_quotes, prev, braces, rep)
                if not _plain(text):
                    literal = False
            pieces.append(text)
            prev = text[-1]
            content = True
        elif t is SglQuoted:
            assert isinstance(part, SglQuoted)
            literal = _single_quoted(part, rep) and literal
            pieces.append(part.text)
            if part.text:
                content = True
            else:
                empty_quotes = True
            prev = ""
        elif t is Escaped:
            assert isinstance(part, Escaped)
            pieces.append(part.char)
            if not _plain(part.char):
                literal = False
                if part.char == "\t":
                    _report_quoted_blanks(part.char, part.pos.offset + 1, rep)
            content = True
            prev = ""
        elif t is DblQuoted:
            assert isinstance(part, DblQuoted)
            if not part.closed:
                literal = False
            if part.parts:
                content = True
            else:
                empty_quotes = True
            literal = _double_quoted(part, pieces, rep) and literal
            prev = ""
        elif t is Expansion:
            assert isinstance(part, Expansion)
            _report_expansion(part, rep, False)
            pieces.append(part.raw)
            content = True
            prev = ""
        else:
            _unhandled(part, rep)
            literal = False
    if braces:
        _report_braces(braces, rep)
    value = "".join(pieces)
    if literal and rep.errors != errors_before:
        literal = False
    return WordInfo(value, literal)


def _single_quoted(part: SglQuoted, rep: Reporter) -> bool:
    """Report what single quotes hold; whether the part is literal text."""
    literal = part.closed
    if part.text and not _plain(part.text):
        _report_quoted_blanks(part.text, part.pos.offset + 1, rep, True)
        if "\0" in part.text or _SURROGATE.search(part.text):
            literal = False
    return literal


def _double_quoted(part: DblQuoted, pieces: list[str], rep: Reporter) -> bool:
    """Decode ``"..."`` into ``pieces`` and report what it holds; whether it is literal."""
    literal = part.closed
    for inner in part.parts:
        if type(inner) is Lit:
            assert isinstance(inner, Lit)
            pieces.append(inner.text)
            if not _plain(inner.text):
                literal = False
                _report_quoted_blanks(inner.text, inner.pos.offset, rep)
        elif type(inner) is Escaped:
            assert isinstance(inner, Escaped)
            pieces.append(inner.char)
            if not _plain(inner.char):
                literal = False
        elif type(inner) is Expansion:
            assert isinstance(inner, Expansion)
            _report_expansion(inner, rep, True)
            pieces.append(inner.raw)
        else:
            _unhandled(inner, rep)
            literal = False
    return literal


def _unquoted(
    text: str,
    base: int,
    content: bool,
    empty_quotes: bool,
    prev: str,
    braces: list[tuple[str, int]],
    rep: Reporter,
) -> None:
    """Report the special characters of one unquoted literal run."""
    for k, ch in enumerate(text):
        off = base + k
        at_start = k == 0 and not content
        if ch in SAFE_CHARS:
            pass
        elif ch == "=":
            if at_start:
                _start_special(ch, off, empty_quotes, rep)
        elif ch == "~":
            if at_start:
                _start_special(ch, off, empty_quotes, rep)
            elif (text[k - 1] if k else prev or " ") in "=:":
                rep.add(
                    Code.TILDE_EXPANSION,
                    off,
                    "an unquoted '~' after '=' or ':' becomes a home directory in bash and "
                    f"mksh (for example in dd's if=~/x): {_FIX}",
                    shells=("bash", "mksh", "ksh93", "zsh"),
                )
            else:
                rep.add(
                    Code.UNQUOTED_SPECIAL, off, f"an unquoted '~' is outside the safe set: {_FIX}"
                )
        elif ch == "*" or ch == "?" or ch == "[":
            rep.add(
                Code.UNQUOTED_GLOB,
                off,
                f"an unquoted {ch!r} is a glob character: the shell replaces the word with "
                f"matching file names (zsh fails when none match): {_FIX}",
            )
        elif ch == "{" or ch == "}":
            braces.append((ch, off))
        elif ch == "^":
            rep.add(
                Code.BOURNE_PIPE,
                off,
                f"an unquoted '^' is a pipe in the Bourne shell and a glob operator in zsh with "
                f"extendedglob: {_FIX}",
                shells=("bourne", "zsh"),
            )
        elif ch == "]":
            rep.add(
                Code.UNQUOTED_SPECIAL,
                off,
                f"an unquoted ']' belongs to glob syntax (zsh treats it specially): {_FIX}",
                shells=("zsh",),
            )
        elif ch == "\\":
            pass  # a trailing backslash, reported by the lexer
        elif " " <= ch < "\x7f":
            rep.add(
                Code.UNQUOTED_SPECIAL,
                off,
                f"an unquoted {ch!r} is outside the characters every shell takes literally "
                f"({'history expansion, negation' if ch == '!' else 'glob syntax in zsh'}): {_FIX}",
            )
        # control characters and non-ASCII: scan_characters


def _start_special(ch: str, off: int, empty_quotes: bool, rep: Reporter) -> None:
    if empty_quotes:
        rep.add(
            Code.EMPTY_QUOTE_TRAP,
            off,
            f"empty quotes before {ch!r} do not protect it in zsh, which removes them first "
            f"and then expands the {ch!r} at word start: quote the {ch!r} itself",
        )
    elif ch == "=":
        rep.add(
            Code.EQUALS_EXPANSION,
            off,
            "a word starting with an unquoted '=' is replaced by a program's path in zsh "
            f"(=ls becomes /bin/ls): {_FIX}",
        )
    else:
        rep.add(
            Code.TILDE_EXPANSION,
            off,
            f"an unquoted '~' at the start of a word becomes a home directory: {_FIX}",
        )


def _report_braces(braces: list[tuple[str, int]], rep: Reporter) -> None:
    opening = next((off for ch, off in braces if ch == "{"), None)
    if opening is not None:
        closing = next((off for ch, off in braces if ch == "}" and off > opening), None)
        if closing is not None:
            rep.add(
                Code.BRACE_EXPANSION,
                opening,
                "unquoted '{...}' is brace expansion in bash (even as /bin/sh), ksh, mksh and "
                f"zsh: {{a,b}} becomes two words and {{1..3}} three: {_FIX}",
                length=closing - opening + 1,
            )
            return
    for ch, off in braces:
        rep.add(
            Code.UNQUOTED_BRACE,
            off,
            f"an unquoted {ch!r} inside a word is special in zsh (and starts brace expansion "
            f"in bash, ksh and mksh): {_FIX}",
        )


def _inside(spans: Sequence[tuple[int, int]], starts: list[int], offset: int) -> bool:
    k = bisect_right(starts, offset) - 1
    return k >= 0 and offset < spans[k][1]


def scan_characters(
    text: str, rep: Reporter, single_quoted: Sequence[tuple[int, int]] = ()
) -> None:
    """Report NUL, control characters (except tab and newline) and non-ASCII runs in ``text``.

    ``single_quoted`` lists the ``(start, end)`` offsets of the contents of
    closed single quotes, sorted: there, control characters and valid UTF-8
    text mean exactly themselves in every common shell and are reported as
    warnings; everywhere else they are errors.  NUL and bytes that are not
    UTF-8 (lone surrogates) are errors everywhere.
    """
    if text.isascii() and text.isprintable():
        return
    starts = [a for a, _b in single_quoted]
    for m in _ODD.finditer(text):
        ch = m.group()
        off = m.start()
        quoted = bool(single_quoted) and _inside(single_quoted, starts, off)
        if ch == "\0":
            rep.add(
                Code.NUL_CHARACTER,
                off,
                "a NUL character ends the string for QEMU (and QMP turns it into the bytes "
                "C0 80): remove it; no shell word can hold NUL",
            )
        elif len(ch) == 1 and ord(ch) < 0x80:
            name = _ASCII_CONTROL_NAMES.get(ch, "")
            what = f"the control character U+{ord(ch):04X}" + (f" ({name})" if name else "")
            if quoted:
                rep.add(
                    Code.CONTROL_CHARACTER,
                    off,
                    f"{what} inside single quotes is part of the word, exactly, in every "
                    "shell, but invisible in review: make sure it is meant",
                    severity=Severity.WARNING,
                    shells=(),
                )
            else:
                rep.add(
                    Code.CONTROL_CHARACTER,
                    off,
                    f"{what} outside single quotes is invisible in review and some shells "
                    "treat it as a separator: remove it, or put the whole word in single quotes",
                )
        else:
            _non_ascii(ch, off, quoted, rep)


def _non_ascii(run: str, off: int, quoted: bool, rep: Reporter) -> None:
    bad = _SURROGATE.search(run)
    if bad is not None:
        k = bad.start()
        cp = ord(run[k])
        what = (
            f"the byte 0x{cp - 0xDC00:02X}, which is not valid UTF-8"
            if 0xDC80 <= cp <= 0xDCFF
            else f"a lone surrogate U+{cp:04X}, which stands for no character"
        )
        rep.add(
            Code.NON_ASCII,
            off + k,
            f"{what}: QMP (JSON) cannot carry it, yash runs nothing for such a string and "
            "multibyte locales can swallow a following backslash; use an ASCII path (a "
            "symlink with an ASCII name works)",
            length=len(run) - k,
        )
        return
    shown = _shorten(run)
    if not quoted:
        rep.add(
            Code.NON_ASCII,
            off,
            f"non-ASCII text {shown!r} outside single quotes: multibyte locales can swallow a "
            "following backslash and yash in the C locale runs nothing; put the whole word in "
            "single quotes (or use an ASCII path)",
            length=len(run),
        )
        return
    rep.add(
        Code.NON_ASCII,
        off,
        f"non-ASCII text {shown!r} inside single quotes means exactly itself in dash, bash, "
        "busybox, mksh, ksh93, zsh and posh, but yash in the C locale silently runs nothing for "
        "a string holding bytes >= 0x80: use an ASCII path if yash may be /bin/sh",
        length=len(run),
        severity=Severity.WARNING,
    )
    import unicodedata

    for k, ch in enumerate(run):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            rep.add(
                Code.CONTROL_CHARACTER,
                off + k,
                f"U+{ord(ch):04X} ({unicodedata.name(ch, 'a control character')}) inside single "
                "quotes is invisible in review (or reorders the text around it): make sure it "
                "is meant",
                severity=Severity.WARNING,
                shells=(),
            )
