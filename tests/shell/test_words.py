"""Word semantics: decoded values and every place a shell would not take a word literally."""

from __future__ import annotations

import pytest

from qmonexec.shell.findings import CODE_INFO, Code, Reporter, Severity
from qmonexec.shell.lexer import lex
from qmonexec.shell.tokens import Kind
from qmonexec.shell.words import analyze_word, scan_characters


def analyse(text: str) -> tuple[str, bool, list[tuple[Code, int]]]:
    rep = Reporter()
    toks = lex(text, rep)
    assert toks[0].kind is Kind.WORD and toks[1].kind is Kind.EOF, toks
    assert toks[0].word is not None
    info = analyze_word(toks[0].word, rep)
    return info.value, info.literal, [(c, o) for c, o, *_ in rep.items]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("abc", "abc"), ("'a b'", "a b"), ("'it'\\''s'", "it's"),
        ('"a\\"b\\$c\\\\d\\e"', 'a"b$c\\d\\e'),
        ("\\a\\ b", "a b"), ("a''b", "ab"), ('""', ""), ("if=/x", "if=/x"), ("-rf", "-rf"),
        ("'$(x)'", "$(x)"), ("a\\\nb", "ab"),
    ],
)  # fmt: skip
def test_decoded_value(text: str, value: str) -> None:
    got, literal, findings = analyse(text)
    assert got == value
    if "\\\n" not in text:
        assert literal and not findings


def test_value_bytes_restores_surrogate_escapes() -> None:
    rep = Reporter()
    word = lex("'caf\udce9'", rep)[0].word
    assert word is not None
    assert analyze_word(word, rep).value_bytes == b"caf\xe9"


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("a$x", Code.PARAMETER_EXPANSION, 1), ('"a${x}"', Code.PARAMETER_EXPANSION, 2),
        ("$(x)", Code.COMMAND_SUBSTITUTION, 0), ('"`x`"', Code.COMMAND_SUBSTITUTION, 1),
        ("$((1))", Code.ARITHMETIC_EXPANSION, 0), ("$'x'", Code.DOLLAR_SINGLE_QUOTE, 0),
        ('$"x"', Code.DOLLAR_DOUBLE_QUOTE, 0), ("a$", Code.DOLLAR_SIGN, 1),
        ("a*", Code.UNQUOTED_GLOB, 1), ("a?b", Code.UNQUOTED_GLOB, 1),
        ("[a]", Code.UNQUOTED_GLOB, 0),
        ("~", Code.TILDE_EXPANSION, 0), ("~u/x", Code.TILDE_EXPANSION, 0),
        ("a=~/x", Code.TILDE_EXPANSION, 2), ("a:~/x", Code.TILDE_EXPANSION, 2),
        ("a~b", Code.UNQUOTED_SPECIAL, 1), ("{a,b}", Code.BRACE_EXPANSION, 0),
        ("x{1..3}", Code.BRACE_EXPANSION, 1), ("a{'x,y'}", Code.BRACE_EXPANSION, 1),
        ("a}", Code.UNQUOTED_BRACE, 1), ("a{", Code.UNQUOTED_BRACE, 1),
        ("=ls", Code.EQUALS_EXPANSION, 0), ("''=ls", Code.EMPTY_QUOTE_TRAP, 2),
        ('""~', Code.EMPTY_QUOTE_TRAP, 2), ("a^b", Code.BOURNE_PIPE, 1),
        ("a]", Code.UNQUOTED_SPECIAL, 1), ("a!", Code.UNQUOTED_SPECIAL, 1),
        ("a#", Code.UNQUOTED_SPECIAL, 1), ('"a\tb"', Code.CONTROL_CHARACTER, 2),
        ('"a\nb"', Code.CONTROL_CHARACTER, 2), ("a\\\tb", Code.CONTROL_CHARACTER, 2),
    ],
)  # fmt: skip
def test_non_literal_places(text: str, code: Code, offset: int) -> None:
    _value, literal, findings = analyse(text)
    assert not literal
    assert (code, offset) in findings


@pytest.mark.parametrize(
    "text", ["'*?[]{a,b}~#=^!'", "\\*", "a=b", "a'='", "'='a", "\\=a", "\"~\"", "'a'~", "a,b"]
)
def test_quoted_specials_are_literal(text: str) -> None:
    _value, literal, findings = analyse(text)
    if text == "'a'~":
        assert (Code.UNQUOTED_SPECIAL, 3) in findings  # '~' mid-word is still outside the safe set
        return
    assert literal and not findings


def test_equals_only_special_at_word_start() -> None:
    assert analyse("a=b")[2] == []
    assert analyse("'a'=b")[2] == []
    assert analyse("\\'=b")[2] == []


@pytest.mark.parametrize(
    ("text", "code"),
    [("a\x00b", Code.NUL_CHARACTER), ("a\rb", Code.CONTROL_CHARACTER),
     ("a\x7f", Code.CONTROL_CHARACTER), ("é", Code.NON_ASCII), ("'日本'", Code.NON_ASCII),
     ("\udcff", Code.NON_ASCII)],
)  # fmt: skip
def test_characters_unsafe_anywhere(text: str, code: Code) -> None:
    rep = Reporter()
    scan_characters(text, rep)
    assert code in rep.codes()


def test_non_ascii_runs_are_one_finding() -> None:
    rep = Reporter()
    scan_characters("a日本語b", rep)
    assert [(c, o, n) for c, o, n, *_ in rep.items] == [(Code.NON_ASCII, 1, 3)]


def test_tab_and_newline_outside_words_are_separators() -> None:
    rep = Reporter()
    scan_characters("a\tb\nc", rep)
    assert rep.items == []


@pytest.mark.parametrize("text", ["'a\tb'", "'a\nb'", "'a\tb\nc'"])
def test_tab_and_newline_in_single_quotes_are_literal_with_a_warning(text: str) -> None:
    rep = Reporter()
    word = lex(text, rep)[0].word
    assert word is not None
    info = analyze_word(word, rep)
    assert info.literal and info.value == text[1:-1]
    assert rep.codes() == {Code.CONTROL_CHARACTER} and not rep.has_errors()


def test_non_ascii_in_single_quotes_is_a_warning_for_yash() -> None:
    rep = Reporter()
    scan_characters("x '日本' y", rep, [(3, 5)])
    [(code, offset, length, _message, severity, shells)] = rep.items
    assert (code, offset, length, severity, shells) == (
        Code.NON_ASCII, 3, 2, Severity.WARNING, None)
    assert CODE_INFO[code].shells == ("yash",)


def test_non_ascii_outside_single_quotes_is_an_error() -> None:
    rep = Reporter()
    scan_characters('x "日本" y', rep, [])
    assert rep.codes() == {Code.NON_ASCII} and rep.has_errors()


def test_bytes_that_are_not_utf8_are_an_error_even_in_single_quotes() -> None:
    rep = Reporter()
    scan_characters("'caf\udce9'", rep, [(1, 5)])
    assert rep.codes() == {Code.NON_ASCII} and rep.has_errors()
    assert "0xE9" in rep.items[0][3]


def test_nul_is_an_error_even_in_single_quotes() -> None:
    rep = Reporter()
    scan_characters("'a\x00b'", rep, [(1, 4)])
    assert rep.codes() == {Code.NUL_CHARACTER} and rep.has_errors()


def test_invisible_format_characters_in_single_quotes_are_flagged() -> None:
    rep = Reporter()
    scan_characters("'a\u202eb'", rep, [(1, 4)])
    assert rep.codes() == {Code.NON_ASCII, Code.CONTROL_CHARACTER} and not rep.has_errors()
