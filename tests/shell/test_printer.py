"""Printer: canonical text, and parse -> print -> parse is the identity (up to positions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmonexec.shell.findings import Code
from qmonexec.shell.parser import parse_text
from tests.helpers.printer import print_script, structure

from .corpus import SAFE, UNSAFE

UNTERMINATED = {Code.UNTERMINATED_QUOTE, Code.UNTERMINATED_EXPANSION}


def round_trip(text: str) -> None:
    script, rep = parse_text(text)
    if script is None or rep.codes() & UNTERMINATED:
        return  # never accepted: an unclosed quote swallows whatever is printed after it
    printed = print_script(script)
    again, rep = parse_text(printed)
    assert again is not None, (text, printed, rep.items)
    assert structure(again) == structure(script), (text, printed)
    assert print_script(again) == printed  # canonical text is a fixed point


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("gzip  -c|{ dd bs=1  seek=2 if=/dev/null&&dd ibs=1 obs=2; } 1<>/t",
         "gzip -c | { dd bs=1 seek=2 if=/dev/null && dd ibs=1 obs=2; } 1<>/t"),
        ("a;b\nc&d", "a; b; c & d"),
        ("(a)>x", "( a ) >x"),
        ("! a|b", "! a | b"),
        ("a 'b c' \"d$e\" \\f", "a 'b c' \"d$e\" \\f"),
        ("ab\\\ncd # x", "abcd"),
        (">x {", ">x {"),
        ("x=1 a 2>&1", "x=1 a 2>&1"),
    ],
)  # fmt: skip
def test_canonical_text(text: str, canonical: str) -> None:
    script, _ = parse_text(text)
    assert script is not None
    assert print_script(script) == canonical
    round_trip(text)


@pytest.mark.parametrize("text", [t for t, _p in SAFE] + [t for t, _c, _p in UNSAFE][:150])
def test_round_trip_on_corpus(text: str) -> None:
    round_trip(text.removeprefix("exec:"))


_ALPHABET = "ab1= '\"\\$;|&<>(){}#\n*~`-!"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_round_trip_on_random_text(text: str) -> None:
    round_trip(text)


_word = st.one_of(
    st.text("ab0/._=-", min_size=1, max_size=6),
    st.builds(lambda t: f"'{t}'", st.text("ab ;|&$", max_size=5)),
    st.builds(lambda t: f'"{t}"', st.text("ab ;$", max_size=5)),
    st.sampled_from(["\\;", "$x", "${y}", "$(z)", "`w`", "$((1))", "'it'\\''s'"]),
)
_simple = st.builds(
    lambda ws, rs: " ".join(ws + rs),
    st.lists(st.builds("".join, st.lists(_word, min_size=1, max_size=3)), min_size=1, max_size=4),
    st.lists(st.builds(lambda fd, op, w: f"{fd}{op}{w}", st.sampled_from(["", "1", "2"]),
                       st.sampled_from([">", "<", ">>", "<>", ">|", ">&"]),
                       st.text("ab/", min_size=1, max_size=5)), max_size=2),
)  # fmt: skip


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pipeline = st.builds(lambda cs, neg: ("! " if neg else "") + " | ".join(cs),
                         st.lists(inner, min_size=1, max_size=3), st.booleans())  # fmt: skip
    and_or = st.builds(
        lambda ps, ops: " ".join(
            x for pair in zip(ps, [*ops[: len(ps) - 1], ""], strict=True) for x in pair if x
        ),
        st.lists(pipeline, min_size=1, max_size=3),
        st.lists(st.sampled_from(["&&", "||"]), min_size=2, max_size=2),
    )  # fmt: skip
    seps = st.lists(st.sampled_from([";", " &", "\n"]), min_size=3, max_size=3)
    lst = st.builds(lambda items, ss: " ".join(a + s for a, s in zip(items, ss, strict=False)),
                    st.lists(and_or, min_size=1, max_size=3), seps)  # fmt: skip
    return st.one_of(
        inner,
        st.builds(lambda b: "{ " + b + "; }", lst),
        st.builds(lambda b: "( " + b + " )", lst),
    )


_script = st.recursive(_simple, _compound, max_leaves=8)


@settings(max_examples=120, deadline=None)
@given(_script)
def test_round_trip_on_generated_scripts(text: str) -> None:
    round_trip(text)
