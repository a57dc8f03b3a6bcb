"""Advice about dd's sizes names the sizes qmonexec renders by default, whichever path checks."""

from __future__ import annotations

import re

import pytest

from qmonexec.render import render_save
from qmonexec.shell import Policy
from qmonexec.shell.fast import fast_check
from qmonexec.spec import SaveSpec

from .test_fast import full


def _rendered_sizes() -> str:
    """``ibs=I obs=O`` as a default save renders them."""
    found = re.search(r"ibs=\d+ obs=\d+", render_save(SaveSpec("/vm/x.img", offset=8192)))
    assert found is not None
    return found.group()


def _save_with(data_step: str) -> str:
    return f"exec:gzip -c | {{ dd bs=4096 seek=2 if=/dev/null && {data_step}; }} 1<>/vm/x.img"


@pytest.mark.parametrize(
    ("data_step", "code"),
    [("dd ibs=4096 obs=4096", "dd-block-sizes"), ("dd bs=65536", "dd-operand")],
)
def test_advice_about_the_data_step_names_the_rendered_default_sizes(
    data_step: str, code: str
) -> None:
    verdict = full(_save_with(data_step), Policy.default())
    [message] = [f.message for f in verdict.findings if f.code.value == code]
    assert message.endswith("use " + _rendered_sizes())


def test_the_fast_path_gives_the_same_block_sizes_advice() -> None:
    text = _save_with("dd ibs=4096 obs=4096")
    quick = fast_check(text, Policy.default())
    assert quick is not None and quick == full(text, Policy.default())
    assert quick.findings[0].message.endswith("use " + _rendered_sizes())
