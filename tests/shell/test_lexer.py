"""Lexer: tokens, quoting parts, operators, positions and lexical findings."""

from __future__ import annotations

import pytest

from qmonexec.shell.findings import Code, Reporter
from qmonexec.shell.lexer import MAX_OPERATORS, lex
from qmonexec.shell.nodes import DblQuoted, Escaped, Expansion, ExpKind, Lit, SglQuoted
from qmonexec.shell.tokens import Kind, Pos, Token


def tokens(text: str) -> tuple[list[Token], set[Code]]:
    rep = Reporter()
    return lex(text, rep), rep.codes()


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.name, t.value) for t in tokens(text)[0]]


def test_words_and_operators_with_positions() -> None:
    toks, codes = tokens("gzip -c | { dd; } 1<>/x")
    assert [(t.kind, t.value) for t in toks] == [
        (Kind.WORD, "gzip"), (Kind.WORD, "-c"), (Kind.OPERATOR, "|"), (Kind.WORD, "{"),
        (Kind.WORD, "dd"), (Kind.OPERATOR, ";"), (Kind.WORD, "}"), (Kind.REDIRECT, "<>"),
        (Kind.WORD, "/x"), (Kind.EOF, ""),
    ]  # fmt: skip
    assert toks[7].fd == 1 and toks[7].pos == Pos(18, 1, 19)
    assert toks[2].pos == Pos(8, 1, 9)
    assert not codes


@pytest.mark.parametrize(
    ("text", "ops"),
    [
        ("a&&b", ["&&"]), ("a||b", ["||"]), ("a;b", [";"]), ("a&b", ["&"]), ("(a)", ["(", ")"]),
        ("a;;", [";;"]), ("a>b", [">"]), ("a>>b", [">>"]), ("a<>b", ["<>"]), ("a>|b", [">|"]),
        ("a<&0", ["<&"]), ("a>&2", [">&"]), ("a<b", ["<"]),
    ],
)  # fmt: skip
def test_operators_are_recognised_longest_first(text: str, ops: list[str]) -> None:
    toks, _ = tokens(text)
    assert [t.value for t in toks if t.kind in (Kind.OPERATOR, Kind.REDIRECT)] == ops


def test_fd_prefix_only_when_digits_touch_the_operator() -> None:
    toks, _ = tokens("a 2>x 2 >y 12>z")
    redirects = [t for t in toks if t.kind is Kind.REDIRECT]
    assert [r.fd for r in redirects] == [2, None, 12]
    assert [t.value for t in toks if t.kind is Kind.WORD] == ["a", "x", "2", "y", "z"]


def test_multi_digit_fd_is_reported() -> None:
    assert Code.FD_NUMBER in tokens("a 10>x")[1]


def test_single_double_and_backslash_quoting_parts() -> None:
    toks, codes = tokens("""'a b'"c$x"\\;d""")
    word = toks[0].word
    assert word is not None and not codes
    assert [type(p) for p in word.parts] == [SglQuoted, DblQuoted, Escaped, Lit]
    dq = word.parts[1]
    assert isinstance(dq, DblQuoted)
    assert isinstance(dq.parts[1], Expansion) and dq.parts[1].raw == "$x"
    assert word.parts[2].pos.offset == 10


@pytest.mark.parametrize(
    ("text", "kind", "raw"),
    [
        ("$x", ExpKind.PARAMETER, "$x"), ("${x:-y}", ExpKind.PARAMETER, "${x:-y}"),
        ("$?", ExpKind.PARAMETER, "$?"), ("$1", ExpKind.PARAMETER, "$1"),
        ("$(a (b) c)", ExpKind.COMMAND, "$(a (b) c)"),
        ("$(a ')' b)", ExpKind.COMMAND, "$(a ')' b)"),
        ("`a`", ExpKind.BACKQUOTE, "`a`"), ("$((1+(2)))", ExpKind.ARITHMETIC, "$((1+(2)))"),
        ("$[1]", ExpKind.ARITHMETIC, "$[1]"), ("$'a\\'b'", ExpKind.DOLLAR_SINGLE, "$'a\\'b'"),
        ('$"a"', ExpKind.DOLLAR_DOUBLE, '$"a"'), ("$", ExpKind.LONE_DOLLAR, "$"),
        ("${a}${b}", ExpKind.PARAMETER, "${a}"),
    ],
)  # fmt: skip
def test_expansions_are_marked_with_their_extent(text: str, kind: ExpKind, raw: str) -> None:
    toks, _ = tokens(text)
    part = toks[0].word.parts[0]  # type: ignore[union-attr]
    assert isinstance(part, Expansion)
    assert (part.kind, part.raw) == (kind, raw)


def test_dollar_single_quote_is_literal_inside_double_quotes() -> None:
    toks, _ = tokens("\"$'x'\"")
    dq = toks[0].word.parts[0]  # type: ignore[union-attr]
    assert isinstance(dq, DblQuoted)
    assert isinstance(dq.parts[0], Expansion) and dq.parts[0].kind is ExpKind.LONE_DOLLAR


def test_comment_only_at_token_start() -> None:
    toks, codes = tokens("a#b # c ; d")
    assert [t.value for t in toks if t.kind is Kind.WORD] == ["a#b"]
    assert codes == {Code.COMMENT}


def test_line_continuation_joins_words_and_operators() -> None:
    toks, codes = tokens("ab\\\ncd &\\\n& e")
    assert Code.LINE_CONTINUATION in codes
    assert [t.value for t in toks if t.kind is Kind.OPERATOR] == ["&&"]
    word = toks[0].word
    assert word is not None and "".join(p.text for p in word.parts) == "abcd"  # type: ignore[union-attr]


def test_newlines_are_tokens_and_runs_collapse() -> None:
    assert kinds("a\n\n  \nb") == [("WORD", "a"), ("NEWLINE", "\n"), ("WORD", "b"), ("EOF", "")]


def test_positions_count_lines_and_columns() -> None:
    toks, _ = tokens("a\n  bb 'c\nd' e")
    assert [t.pos for t in toks if t.kind is Kind.WORD] == [
        Pos(0, 1, 1), Pos(4, 2, 3), Pos(7, 2, 6), Pos(13, 3, 4),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("'a", Code.UNTERMINATED_QUOTE), ('"a', Code.UNTERMINATED_QUOTE),
        ("$(a", Code.UNTERMINATED_EXPANSION), ("`a", Code.UNTERMINATED_EXPANSION),
        ("${a", Code.UNTERMINATED_EXPANSION), ("a <<x", Code.HERE_DOCUMENT),
        ("a &>x", Code.NON_POSIX_OPERATOR), ("a |& b", Code.NON_POSIX_OPERATOR),
        ("a <<<x", Code.NON_POSIX_OPERATOR), ("a <(b)", Code.NON_POSIX_OPERATOR),
        ("((a))", Code.NON_POSIX_OPERATOR), ("a >!x", Code.NON_POSIX_OPERATOR),
        ("a ;& b", Code.NON_POSIX_OPERATOR), ("a <1-5>", Code.NON_POSIX_OPERATOR),
    ],
)  # fmt: skip
def test_lexical_findings(text: str, code: Code) -> None:
    assert code in tokens(text)[1]


def test_never_raises_and_always_ends_with_eof() -> None:
    for text in ["", "\\", "'", '"\\', "$", "$(", "${", "`\\", "1", "1<", "<", "\x00", "é"]:
        toks, _ = tokens(text)
        assert toks[-1].kind is Kind.EOF


def test_operator_limit_stops_the_lexer() -> None:
    toks, codes = tokens("a;" * (MAX_OPERATORS + 10))
    assert Code.TOO_MANY_COMMANDS in codes
    assert len(toks) < 2 * MAX_OPERATORS + 10
