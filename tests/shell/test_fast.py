"""The canonical-shape fast path returns exactly the full analysis' verdict, or defers.

Both implementations are kept on purpose: the fast path keeps the lexer and
parser out of the start-up of every command that validates what it renders,
and the full analysis is the reference.  These tests pin them equal, and pin
that every string qmonexec renders takes the fast path.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmonexec.render import render_command, render_restore, render_save
from qmonexec.shell import Policy, Verdict, check
from qmonexec.shell.fast import fast_check
from qmonexec.spec import CommandSpec, RestoreSpec, SaveSpec, compression

from .corpus import POLICIES, SAFE, UNSAFE

_check_module = sys.modules["qmonexec.shell.check"]


def full(text: str, policy: Policy) -> Verdict:
    """The verdict of the full lexer/parser/policy path."""
    saved = _check_module.fast_check  # type: ignore[attr-defined]
    _check_module.fast_check = lambda _text, _policy: None  # type: ignore[attr-defined]
    try:
        return check(text, policy)
    finally:
        _check_module.fast_check = saved  # type: ignore[attr-defined]


def declined_on_purpose(text: str) -> bool:
    """The one kind of rendered string the fast path leaves to the full analysis: an '='
    at the start of a word (zsh's '=cmd' expansion rules), e.g. in a name like '/v/ ='."""
    return " =" in text or "''=" in text


def same(text: str, policy: Policy) -> bool:
    """Assert the fast path agrees with the full path; return whether it answered."""
    quick = fast_check(text, policy)
    if quick is None:
        return False
    assert quick == full(text, policy), text
    return True


@pytest.mark.parametrize(("text", "policy"), SAFE, ids=lambda v: repr(v)[:50])
def test_fast_path_agrees_on_safe_corpus(text: str, policy: str) -> None:
    same(text, POLICIES[policy])


@pytest.mark.parametrize(("text", "code", "policy"), UNSAFE, ids=lambda v: repr(v)[:50])
def test_fast_path_never_accepts_what_the_full_path_refuses(
    text: str, code: str, policy: str
) -> None:
    assert fast_check(text, POLICIES[policy]) is None


def test_fast_path_answers_the_rendered_shapes() -> None:
    p = Policy.default()
    assert same(render_save(SaveSpec("/var/lib/vm/g.img", offset=8192)), p)
    assert same(render_save(SaveSpec("/v/g.img", compression=compression("zstd"),
                                     status_dir="/run/q")), p)  # fmt: skip
    assert same(render_save(SaveSpec("/v/g.img", profile="libvirt")), p)
    assert same(render_restore(RestoreSpec("/v/g.img", compression=compression("xz"))), p)
    assert same(render_command(CommandSpec(["/usr/bin/tee", "/x y"])), Policy.command())


_NAME = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
_COMP = st.sampled_from(["raw", "gzip", "bzip2", "xz", "lzop", "zstd"])


@settings(max_examples=150, deadline=None)
@given(name=_NAME, comp=_COMP, profile=st.sampled_from(["default", "libvirt"]),
       status=st.one_of(st.none(), _NAME), blocks=st.integers(0, 64))  # fmt: skip
def test_fast_path_answers_rendered_saves_as_the_full_path_does(
    name: str, comp: str, profile: str, status: str | None, blocks: int
) -> None:
    status_dir = None if status is None else "/s/" + status
    spec = SaveSpec("/v/" + name, compression=compression(comp), profile=profile,
                    offset=blocks * 4096, status_dir=status_dir)  # fmt: skip
    text = render_save(spec)
    assert same(text, Policy.default()) or declined_on_purpose(text)
    assert same(text, Policy.default().expecting_offset(blocks * 4096)) or declined_on_purpose(text)
    assert check(text).ok


@settings(max_examples=100, deadline=None)
@given(name=_NAME, comp=_COMP, blocks=st.integers(0, 64))
def test_fast_path_answers_rendered_restores_as_the_full_path_does(
    name: str, comp: str, blocks: int
) -> None:
    text = render_restore(RestoreSpec("/v/" + name, compression=compression(comp),
                                      offset=blocks * 4096))  # fmt: skip
    assert same(text, Policy.default()) or declined_on_purpose(text)
    assert check(text).ok


@settings(max_examples=100, deadline=None)
@given(argv=st.lists(_NAME, min_size=1, max_size=4))
def test_fast_path_agrees_on_rendered_commands(argv: list[str]) -> None:
    text = render_command(CommandSpec(argv))
    for policy in (Policy.command(), Policy.default()):
        same(text, policy)


@settings(max_examples=300, deadline=None)
@given(st.text("ab'\\ =-/:|{};&<>12dc", max_size=30))
def test_fast_path_agrees_on_mutated_shapes(tail: str) -> None:
    for base in ("exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576; }"
                 " 1<>/v/", "exec:dd if=/v/", "exec:/usr/bin/tee "):  # fmt: skip
        for policy in (Policy.default(), Policy.command()):
            same(base + tail, policy)
