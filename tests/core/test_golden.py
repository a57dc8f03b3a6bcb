"""Golden files: every rendered string of the catalogue, reviewed once and then frozen.

The snapshots live in ``snapshots/core/test_golden.ambr``.  Update them with
``pytest tests/core/test_golden.py --snapshot-update`` only after reading every
changed string: that review is the point of these tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from .catalogue import HOSTILE, Case, cases

CASES = cases()
BY_ID = {case.id: case for case in CASES}


def stored(text: str) -> str | bytes:
    """What goes into the golden file: the text, or its exact bytes when text would lose them.

    Bytes that are not UTF-8 cannot be written as text, and syrupy's amber files
    are read with universal newlines, which turns a CR into LF: a golden string
    holding CR would then also match a rendering with LF.  Bytes are written as
    their ``repr`` (``b'...\\r...'``), which keeps both exact.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text.encode("utf-8") if "\r" in text else text


def test_a_golden_string_holding_cr_is_stored_as_bytes_so_cr_stays_cr() -> None:
    assert stored("a\rb") == b"a\rb"
    assert stored("a\nb") == "a\nb"


def test_the_catalogue_has_at_least_40_cases_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len(BY_ID) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: Case, snapshot: Any) -> None:
    assert stored(case.output()) == snapshot


def test_hmp_refuses_the_name_over_1023_bytes_instead_of_truncating() -> None:
    output = BY_ID["hostile-over-1023-bytes-save-default-hmp"].output()
    assert output.startswith("InputError: migration URI is ")
    assert "silently truncates" in output


def test_qmp_forms_refuse_the_non_utf8_name() -> None:
    for form in ("qmp", "hmp", "virsh"):
        output = BY_ID[f"hostile-non-utf8-save-default-{form}"].output()
        assert output.startswith("InputError:") and "0xE9" in output


@pytest.mark.parametrize("name", HOSTILE)
def test_every_hostile_name_is_rendered_by_every_template(name: str) -> None:
    kinds = {c.kind for c in CASES if c.id.startswith(f"hostile-{name}-")}
    assert kinds == {"save", "restore", "command"}
