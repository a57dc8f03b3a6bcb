"""Findings about Python strings name the source expression, never review's stand-in."""

from __future__ import annotations

import textwrap

import pytest

from qmonexec.review.formats import FORMATS, render
from qmonexec.review.model import ReviewFinding
from qmonexec.review.runner import review_text
from qmonexec.review.standins import StandIns
from qmonexec.shell import Policy


def _found(source: str) -> list[ReviewFinding]:
    return review_text("f.py", textwrap.dedent(source), "python", Policy.default(), False)


def _message(source: str, code: str) -> str:
    return next(f.message for f in _found(source) if f.code == code)


def _stand_in_texts() -> list[str]:
    """Every marker review may put in place of a value (so that no message holds one)."""
    s = StandIns()
    return [s.word("a"), *(s.number(str(k)) for k in range(10)), s.uri("save", "b")]


def test_an_interpolated_path_is_shown_as_its_expression() -> None:
    message = _message('uri = f"exec:cat >{path}"\n', "truncating-redirect")
    assert "'{path}'" in message


def test_each_value_of_one_string_is_shown_as_its_own_expression() -> None:
    message = _message('uri = f"exec:gzip -c >{root}/{name}.gz"\n', "truncating-redirect")
    assert "'{root}/{name}.gz'" in message


def test_a_percent_number_is_shown_as_its_expression() -> None:
    message = _message('uri = "exec:gzip -c >/vm/%d.gz" % n\n', "truncating-redirect")
    assert "'/vm/{n}.gz'" in message


def test_a_format_field_is_shown_as_its_argument() -> None:
    message = _message('uri = "exec:gzip -c >{}".format(target)\n', "truncating-redirect")
    assert "'{target}'" in message


def test_a_long_expression_is_shown_shortened_on_one_line() -> None:
    source = 'uri = "exec:cat >%s" % (\n    settings.storage.images_directory_for(\n vm))\n'
    message = _message(source, "truncating-redirect")
    assert "'{settings.storage.images_dir...}'" in message


def test_a_literal_that_looks_like_a_number_stand_in_is_left_as_written() -> None:
    number = StandIns().number("n")
    message = _message(f'uri = "exec:gzip -c >/vm/{number}.gz"\n', "truncating-redirect")
    assert f"'/vm/{number}.gz'" in message


def test_two_number_stand_ins_never_make_ibs_equal_obs() -> None:
    source = (
        'uri = "exec:gzip -c | { dd bs=4096 seek=1 if=/dev/null && dd ibs=%d obs=%d; }'
        ' 1<>/vm/x" % (a, b)\n'
    )
    assert [f.code for f in _found(source)] == []


@pytest.mark.parametrize("output", FORMATS)
def test_no_output_format_shows_a_stand_in(output: str) -> None:
    found = _found("""
        def f(qmp, path, n, spec):
            qmp.migrate(f"exec:cat >{path}")
            qmp.migrate("exec:gzip -c >/vm/%d.gz" % n)
            qmp.migrate(save_uri(spec) + " 2>/tmp/err; reboot")
            qmp.migrate(f"exec:gzip -c >{quote_word(path)}")
    """)
    text = render(found, output, 1)
    assert len(found) >= 4
    assert not [marker for marker in _stand_in_texts() if marker in text]
    assert "{path}" in text and "{n}" in text
