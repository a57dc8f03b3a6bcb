"""The facts in qmonexec.limits that two implementations rely on agree with each other."""

from __future__ import annotations

import sys

import pytest

from qmonexec.limits import QMP_UNCARRIED, normalise_path, qmp_text_problem, special_path


def test_the_qmp_text_pattern_matches_exactly_what_qmp_text_problem_refuses() -> None:
    # the validator scans long strings with the pattern; the quoting code asks per character
    mismatches = [
        cp for cp in range(sys.maxunicode + 1)
        if (QMP_UNCARRIED.fullmatch(chr(cp)) is not None) != (qmp_text_problem(chr(cp)) is not None)
    ]  # fmt: skip
    assert mismatches == []


@pytest.mark.parametrize(
    ("path", "normal"),
    [("/a//b", "/a/b"), ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/..", "/"), ("/a/b/", "/a/b")],
)
def test_paths_are_normalised_lexically(path: str, normal: str) -> None:
    assert normalise_path(path) == normal


def test_special_paths_accept_bytes() -> None:
    assert special_path(b"/dev/tcp/h/1") is not None


def test_an_ordinary_path_that_merely_mentions_dev_is_not_special() -> None:
    assert special_path("/var/dev/tcp/x") is None
