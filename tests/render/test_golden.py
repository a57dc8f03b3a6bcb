"""Golden files: every rendered string of the catalogue, reviewed once and then frozen.

The snapshots live in ``snapshots/render/test_golden.ambr``.  Update them with
``pytest tests/render/test_golden.py --snapshot-update`` only after reading every
changed string: that review is the point of these tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from qmonexec.build import policy_for

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
# --- the gate: every catalogue URI passes the validator with the policy build.py uses ------------

#: Names the default policy accepts with a warning: inside single quotes control characters and
#: valid UTF-8 mean exactly themselves in every common shell, but control characters are invisible
#: in review and yash in the C locale silently runs nothing for bytes >= 0x80.  The strict text
#: option (Policy.strict_text()) refuses them for exactly that reason.
WARNED_BY_POLICY = {"newline": "control-character", "carriage-return": "control-character",
                    "tab": "control-character", "utf8": "non-ascii"}
#: Names refused whatever the policy: bytes that are not UTF-8 cannot travel in QMP.
REFUSED_BY_POLICY = {"non-utf8": "non-ascii"}

URI_CASES = [c for c in CASES if c.form == "uri"]
GATED = [c for c in URI_CASES
         if not any(c.id.startswith(f"hostile-{n}-") for n in REFUSED_BY_POLICY)]
REFUSED = [c for c in URI_CASES if c not in GATED]
WARNED = [c for c in URI_CASES
          if any(c.id.startswith(f"hostile-{n}-") for n in WARNED_BY_POLICY)]


def verdict_for(case: Case, strict: bool = False) -> Any:
    from qmonexec.shell import Policy, check

    policy = Policy.command() if case.kind == "command" else policy_for(case.compression)
    return check(case.uri(), policy.strict_text(strict))


@pytest.mark.parametrize("case", GATED, ids=[c.id for c in GATED])
def test_every_catalogue_uri_passes_the_validator(case: Case) -> None:
    verdict = verdict_for(case)
    assert verdict.ok, [f"{f.code}: {f.message}" for f in verdict.findings]


@pytest.mark.parametrize("case", WARNED, ids=[c.id for c in WARNED])
def test_the_validator_accepts_control_and_non_ascii_names_in_quotes_with_a_warning(
    case: Case,
) -> None:
    verdict = verdict_for(case)
    assert verdict.ok
    name = next(n for n in WARNED_BY_POLICY if case.id.startswith(f"hostile-{n}-"))
    warnings = {f.code.value for f in verdict.findings if f.severity.value == "warning"}
    assert warnings - {"dd-block-sizes"} == {WARNED_BY_POLICY[name]}  # libvirt: ibs=obs


@pytest.mark.parametrize("case", WARNED, ids=[c.id for c in WARNED])
def test_the_strict_text_option_refuses_control_and_non_ascii_names_for_that_reason_only(
    case: Case,
) -> None:
    verdict = verdict_for(case, strict=True)
    assert not verdict.ok
    name = next(n for n in WARNED_BY_POLICY if case.id.startswith(f"hostile-{n}-"))
    errors = {f.code.value for f in verdict.findings if f.severity.value == "error"}
    assert errors == {WARNED_BY_POLICY[name]}


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_the_validator_refuses_non_utf8_names_for_that_reason_only(
    case: Case,
) -> None:
    verdict = verdict_for(case)
    assert not verdict.ok
    name = next(n for n in REFUSED_BY_POLICY if case.id.startswith(f"hostile-{n}-"))
    errors = {f.code.value for f in verdict.findings if f.severity.value == "error"}
    assert errors == {REFUSED_BY_POLICY[name]}


def test_the_gate_covers_most_of_the_catalogue() -> None:
    assert len(GATED) >= 100 and len(REFUSED) == 4 * len(REFUSED_BY_POLICY)
    assert len(WARNED) == 4 * len(WARNED_BY_POLICY)
