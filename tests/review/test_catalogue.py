"""The catalogue: every code has one class, a real example and a fix; the docs follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmonexec.review.catalogue import (
    CATALOGUE,
    FindingClass,
    ReviewCode,
    all_codes,
    class_of,
    entry,
)
from qmonexec.review.docs import code_entry, document
from qmonexec.review.runner import review_text
from qmonexec.review.templates import lint_directories
from qmonexec.shell import Code, Policy, check
from tests.helpers.support import ROOT


def _policy(name: str) -> Policy:
    if name == "command":
        return Policy.command()
    if name.startswith("command+"):
        return Policy.command().allowing_commands(name.split("+", 1)[1])
    if name.startswith("offset:"):
        return Policy.default().expecting_offset(int(name.split(":", 1)[1]))
    return Policy.default()


@pytest.mark.parametrize("code", list(Code))
def test_every_validator_code_has_a_class(code: Code) -> None:
    assert code.value in {str(getattr(k, "value", k)) for k in CATALOGUE}


def test_catalogue_holds_no_code_twice_and_no_unknown_code() -> None:
    keys = [str(getattr(k, "value", k)) for k in CATALOGUE]
    assert sorted(keys) == sorted(set(keys)) == sorted(all_codes())


def test_an_unknown_code_counts_as_unproven() -> None:
    assert class_of("a-code-from-the-future") is FindingClass.UNPROVEN


_STRING_CODES = [c for c in all_codes() if entry(c).kind == "string" and entry(c).example]


@pytest.mark.parametrize("code", _STRING_CODES)
def test_each_example_produces_its_code(code: str) -> None:
    e = entry(code)
    text = e.sample() if e.sample else e.example
    assert text is not None
    assert code in check(text, _policy(e.policy), form=e.form).codes


@pytest.mark.parametrize("code", [c for c in _STRING_CODES if entry(c).fix])
def test_each_fix_is_free_of_its_code_as_an_error(code: str) -> None:
    e = entry(code)
    verdict = check(e.fix, _policy(e.policy), form=e.form)
    assert code not in [f.code.value for f in verdict.errors]


def test_review_only_examples_produce_their_codes(tmp_path: Path) -> None:
    py = entry(ReviewCode.UNQUOTED_INTERPOLATION).example
    found = review_text("x.py", f"def f(path):\n    return {py}\n", "python", Policy.default(),
                        False)
    assert ReviewCode.UNQUOTED_INTERPOLATION.value in [f.code for f in found]
    bad = entry(ReviewCode.UNREADABLE_SOURCE).example or ""
    found = review_text("x.py", bad + "\n", "python", Policy.default(), False)
    assert [f.code for f in found] == [ReviewCode.UNREADABLE_SOURCE.value]
    for code in (ReviewCode.SUPPRESSION_WITHOUT_REASON, ReviewCode.UNUSED_SUPPRESSION):
        text = (entry(code).example or "") + "\nexec:gzip -c > /tmp/vm.gz\n"
        found = review_text("x.txt", text, "list", Policy.default(), False)
        assert code.value in [f.code for f in found]
    (tmp_path / "bad.j2").write_text(entry(ReviewCode.TEMPLATE_SLOT_ESCAPES).example or "")
    findings, _count = lint_directories([str(tmp_path)])
    assert [f.code for f in findings] == [ReviewCode.TEMPLATE_SLOT_ESCAPES.value]


def test_the_example_of_the_issue_is_data_loss_never_injection() -> None:
    codes = check("exec:gzip -c > /tmp/vm.gz").codes
    assert codes and {class_of(c) for c in codes} <= {FindingClass.DATA_LOSS, FindingClass.SHAPE}


def test_a_separator_is_injection() -> None:
    codes = check("exec:cat >/vm/x; reboot").codes
    assert FindingClass.INJECTION in {class_of(c) for c in codes}


def test_a_refused_shell_is_injection_and_an_unknown_program_only_shape() -> None:
    assert check("exec:bash -c reboot").codes[0] == "program-runs-code"
    assert class_of("program-runs-code") is FindingClass.INJECTION
    assert check("exec:pigz -c").codes[0] == "command-not-allowed"
    assert class_of("command-not-allowed") is FindingClass.SHAPE


def test_docs_findings_md_is_generated_from_the_catalogue() -> None:
    committed = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert committed == document(), "run: python -m qmonexec.review.docs docs/findings.md"


def test_every_code_has_a_section_in_the_docs() -> None:
    text = document()
    for code in all_codes():
        assert f"## `{code}`" in text
        assert code_entry(code).rstrip("\n") in text


def test_every_unproven_code_of_the_validator_is_in_the_unproven_class() -> None:
    from qmonexec.shell.findings import UNPROVEN

    assert {code.value for code in UNPROVEN if class_of(code) is not FindingClass.UNPROVEN} == set()
