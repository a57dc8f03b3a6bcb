"""Quoting: shell words, QMP text and HMP strings (docs/reference.md, sections 2-4)."""

from __future__ import annotations

import os
import string
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmonexec.errors import InputError
from qmonexec.limits import HMP_MAX_BYTES
from qmonexec.quoting import (
    SAFE_CHARS,
    check_qmp_text,
    quote_hmp,
    quote_word,
    quote_words,
    to_bytes,
)
from tests.helpers.unquote import NotOurFormat, split_words, unquote_word

SAFE_SET = set(string.ascii_letters + string.digits + "_./:@%+,-")
UNSAFE_ASCII = [chr(c) for c in range(1, 128) if chr(c) not in SAFE_SET]


class BytesPath(os.PathLike[bytes]):
    """A PathLike whose fspath is bytes (pathlib only makes str ones)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __fspath__(self) -> bytes:
        return self.raw


# --- shell words -------------------------------------------------------------------------------


def test_the_safe_set_is_exactly_letters_digits_and_underscore_dot_slash_colon_at_percent_plus_comma_dash():  # noqa: E501
    assert set(SAFE_CHARS) == SAFE_SET


@pytest.mark.parametrize("char", sorted(SAFE_SET))
def test_a_safe_char_stays_bare(char: str) -> None:
    assert quote_word(f"a{char}b") == f"a{char}b"
    assert quote_word(char) == char


@pytest.mark.parametrize("char", UNSAFE_ASCII, ids=[f"0x{ord(c):02x}" for c in UNSAFE_ASCII])
def test_every_other_ascii_char_forces_single_quotes(char: str) -> None:
    quoted = quote_word(f"a{char}b")
    assert quoted.startswith("'") and quoted.endswith("'")
    assert unquote_word(quoted) == f"a{char}b".encode()


@pytest.mark.parametrize("char", ["=", "~", "#", "{", "[", "^", "*", "?", "!"])
def test_a_special_char_at_word_start_is_inside_the_quotes(char: str) -> None:
    # zsh: empty quotes before a special char do not protect it; the char itself must be quoted.
    assert quote_word(f"{char}x") == f"'{char}x'"


def test_a_leading_dash_stays_bare_it_is_not_shell_syntax() -> None:
    assert quote_word("-rf") == "-rf"


def test_a_single_quote_is_written_close_backslash_quote_open() -> None:
    assert quote_word("it's") == "'it'\\''s'"


def test_a_lone_single_quote() -> None:
    assert quote_word("'") == "''\\'''"


def test_the_empty_word_is_two_single_quotes() -> None:
    assert quote_word("") == "''"
    assert quote_word(b"") == "''"


def test_no_backslash_escape_outside_the_quote_idiom() -> None:
    quoted = quote_word("a\\b'c\"d$e`f\ng")
    assert quoted.replace("'\\''", "").count("\\") == 1  # the one backslash of the value itself
    assert quoted == "'a\\b'\\''c\"d$e`f\ng'"


def test_never_dollar_single_quote() -> None:
    for value in ["\n", "\t", "\x01", "\x7f", "$'x'", "'", "\r\n"]:
        quoted = quote_word(value)
        assert not quoted.startswith("$'")
        assert unquote_word(quoted) == value.encode()


def test_control_chars_are_written_literally_inside_quotes() -> None:
    assert quote_word("a\nb\rc\td") == "'a\nb\rc\td'"


def test_str_input() -> None:
    assert quote_word("/var/lib/vm/a b.img") == "'/var/lib/vm/a b.img'"


def test_bytes_input() -> None:
    assert quote_word(b"/var/lib/vm/a b.img") == "'/var/lib/vm/a b.img'"


def test_pathlike_str_input() -> None:
    assert quote_word(Path("/var/lib/vm/a b.img")) == "'/var/lib/vm/a b.img'"
    assert quote_word(PurePosixPath("/var/lib/vm/ok.img")) == "/var/lib/vm/ok.img"


def test_pathlike_bytes_input() -> None:
    assert quote_word(BytesPath(b"/vm/\xff x")) == "'/vm/\udcff x'"


def test_non_utf8_bytes_survive_as_surrogate_escapes() -> None:
    raw = b"/vm/\xff\xfe\x80caf\xe9.img"
    quoted = quote_word(raw)
    assert quoted.encode("utf-8", "surrogateescape") == b"'" + raw + b"'"
    assert unquote_word(quoted) == raw


def test_a_surrogate_escaped_str_is_the_same_word_as_its_bytes() -> None:
    raw = b"/vm/\xff.img"
    assert quote_word(os.fsdecode(raw)) == quote_word(raw)


def test_utf8_text_is_quoted_and_kept() -> None:
    assert quote_word("/vm/naïve-日本.img") == "'/vm/naïve-日本.img'"


def test_non_ascii_is_never_bare() -> None:
    assert quote_word("é") == "'é'"


@pytest.mark.parametrize("value", ["\0", "a\0", "\0b", b"ab\0cd", Path("/x\0y")])
def test_nul_anywhere_raises_input_error(value: object) -> None:
    with pytest.raises(InputError, match="NUL"):
        quote_word(value)  # type: ignore[arg-type]


def test_nul_error_carries_its_position() -> None:
    with pytest.raises(InputError) as info:
        quote_word("abc\0def")
    assert info.value.position == 3
    assert "offset 3" in str(info.value)


def test_input_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        quote_word("\0")


def test_a_lone_surrogate_that_stands_for_no_byte_is_refused() -> None:
    with pytest.raises(InputError, match="surrogate") as info:
        quote_word("ab\ud800")
    assert info.value.position == 2


@pytest.mark.parametrize("value", [None, 3, 1.5, ["a"], bytearray(b"a")])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(InputError, match=r"str, bytes or os\.PathLike"):
        quote_word(value)  # type: ignore[arg-type]


def test_to_bytes_gives_the_exact_bytes_the_shell_sees() -> None:
    assert to_bytes("é\udcff") == b"\xc3\xa9\xff"
    assert to_bytes(Path("/a")) == b"/a"


def test_quote_words_joins_quoted_words_with_single_spaces() -> None:
    assert quote_words(["tee", "/a b", "", "x'y"]) == "tee '/a b' '' 'x'\\''y'"


def test_quote_words_refuses_an_empty_list() -> None:
    with pytest.raises(InputError, match="empty"):
        quote_words([])


def test_quote_words_names_the_argument_holding_a_nul() -> None:
    with pytest.raises(InputError, match="argument 1"):
        quote_words(["tee", "a\0"])


# --- QMP text ----------------------------------------------------------------------------------


def test_qmp_text_returns_valid_text_unchanged() -> None:
    text = "exec:dd if='/vm/naïve 日本 🎉.img' bs=4096"
    assert check_qmp_text(text) is text


def test_qmp_text_refuses_surrogate_escaped_bytes() -> None:
    with pytest.raises(InputError, match="0xFF") as info:
        check_qmp_text("/vm/" + os.fsdecode(b"\xff") + ".img")
    assert info.value.position == 4


@pytest.mark.parametrize("cp", [0xD800, 0xDBFF, 0xDC00, 0xDC7F, 0xDFFF])
def test_qmp_text_refuses_lone_surrogates(cp: int) -> None:
    with pytest.raises(InputError, match="lone surrogate"):
        check_qmp_text("a" + chr(cp))


@pytest.mark.parametrize("cp", [0xFDD0, 0xFDDF, 0xFDEF])
def test_qmp_text_refuses_the_fdd0_to_fdef_noncharacters(cp: int) -> None:
    with pytest.raises(InputError, match="noncharacter"):
        check_qmp_text(chr(cp))


@pytest.mark.parametrize("plane", range(17))
def test_qmp_text_refuses_fffe_and_ffff_in_every_plane(plane: int) -> None:
    for low in (0xFFFE, 0xFFFF):
        with pytest.raises(InputError, match=f"U\\+{(plane << 16) | low:04X}"):
            check_qmp_text(chr((plane << 16) | low))


@pytest.mark.parametrize("cp", [0xFDCF, 0xFDF0, 0xFFFD, 0x1FFFD, 0x10000])
def test_qmp_text_accepts_the_neighbours_of_noncharacters(cp: int) -> None:
    assert check_qmp_text(chr(cp)) == chr(cp)


def test_qmp_text_refuses_nul() -> None:
    with pytest.raises(InputError, match="NUL") as info:
        check_qmp_text("ab\0")
    assert info.value.position == 2


@pytest.mark.parametrize("text", ["\0", "\ud800", "\udcff", "\ufdd0", "\uffff"])
def test_qmp_text_errors_suggest_a_path_without_those_bytes(text: str) -> None:
    with pytest.raises(InputError, match="use a path without such bytes"):
        check_qmp_text(text)


def test_qmp_text_error_names_what_was_checked() -> None:
    with pytest.raises(InputError, match=r"^migration URI holds"):
        check_qmp_text("\0", what="migration URI")


# --- HMP strings -------------------------------------------------------------------------------


def test_hmp_wraps_in_double_quotes() -> None:
    assert quote_hmp("exec:cat >/x") == '"exec:cat >/x"'


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")],
)
def test_hmp_escapes_backslash_quote_newline_and_cr(raw: str, escaped: str) -> None:
    assert quote_hmp(f"a{raw}b") == f'"a{escaped}b"'


@pytest.mark.parametrize("char", ["'", "\t", "$", "`", " ", "é", "\x01", "\x7f"])
def test_hmp_writes_every_other_char_as_is(char: str) -> None:
    assert quote_hmp(f"a{char}b") == f'"a{char}b"'


def test_hmp_escape_order_keeps_backslash_n_literal() -> None:
    # a backslash followed by n is two chars, not a newline: it must come back as \\n
    assert quote_hmp("\\n") == '"\\\\n"'


def test_hmp_accepts_1023_bytes() -> None:
    assert quote_hmp("x" * HMP_MAX_BYTES) == '"' + "x" * 1023 + '"'
    assert HMP_MAX_BYTES == 1023


def test_hmp_refuses_1024_bytes_naming_the_fix() -> None:
    with pytest.raises(InputError, match="1024 bytes") as info:
        quote_hmp("x" * 1024)
    assert "truncates" in str(info.value)
    assert "--format qmp" in str(info.value)


def test_hmp_counts_utf8_bytes_not_characters() -> None:
    assert quote_hmp("é" * 511 + "x")  # 1023 bytes
    with pytest.raises(InputError, match="1024 bytes"):
        quote_hmp("é" * 512)  # 512 characters, 1024 bytes


def test_hmp_counts_the_raw_text_not_the_escaped_form() -> None:
    # QEMU's limit applies to the parsed string; 1023 newlines are 2046 escaped chars.
    assert quote_hmp("\n" * 1023) == '"' + "\\n" * 1023 + '"'


def test_hmp_refuses_what_qmp_text_refuses() -> None:
    with pytest.raises(InputError, match="0xFF"):
        quote_hmp(os.fsdecode(b"\xff"))


# --- properties --------------------------------------------------------------------------------

nul_free_text = st.text(alphabet=st.characters(blacklist_characters="\0",
                                               blacklist_categories=("Cs",)))
nul_free_bytes = st.binary().filter(lambda b: b"\0" not in b)


@settings(max_examples=400)
@given(nul_free_text)
def test_quoting_is_total_on_nul_free_str_and_unquotes_to_its_bytes(value: str) -> None:
    assert unquote_word(quote_word(value)) == value.encode("utf-8")


@settings(max_examples=400)
@given(nul_free_bytes)
def test_quoting_is_total_on_nul_free_bytes_and_unquotes_to_them(value: bytes) -> None:
    assert unquote_word(quote_word(value)) == value


@settings(max_examples=200)
@given(st.lists(nul_free_bytes, min_size=1, max_size=6))
def test_quote_words_unquotes_to_the_same_argv(argv: list[bytes]) -> None:
    assert split_words(quote_words(argv)) == argv


@settings(max_examples=400)
@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127)))
def test_no_unquoted_char_outside_the_safe_set(value: str) -> None:
    quoted = quote_word(value)
    # Drop the '\'' idiom (it joins two quoted runs); what is left outside quotes is safe.
    joined = quoted.replace("'\\''", "")
    assert joined.count("\\") == value.count("\\")
    outside = "".join(part for i, part in enumerate(joined.split("'")) if i % 2 == 0)
    assert set(outside) <= SAFE_SET
    assert not quoted.startswith("$")


@pytest.mark.parametrize("text", ["a b", "$'x'", "\"x\"", "a\\b", "\\'x", "'open", "~", ""])
def test_the_test_unquoter_rejects_anything_but_our_format(text: str) -> None:
    with pytest.raises(NotOurFormat):
        unquote_word(text)
