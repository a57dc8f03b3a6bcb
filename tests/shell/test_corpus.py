"""Every corpus string gets its expected finding; every safe one passes clean."""

from __future__ import annotations

import pytest

from qmonexec.shell import Severity, check

from .corpus import POLICIES, SAFE, UNSAFE, WARNED


def test_corpus_is_big_enough() -> None:
    assert len(UNSAFE) >= 150
    assert len(SAFE) >= 50
    assert len(set(UNSAFE)) == len(UNSAFE)


@pytest.mark.parametrize(("text", "code", "policy"), UNSAFE, ids=lambda v: repr(v)[:60])
def test_unsafe_string_is_refused_with_its_code(text: str, code: str, policy: str) -> None:
    verdict = check(text, POLICIES[policy])
    assert not verdict.ok
    assert code in verdict.codes, verdict.findings
    for finding in verdict.findings:
        assert 0 <= finding.position.offset <= len(text)
        assert finding.message


@pytest.mark.parametrize(("text", "policy"), SAFE, ids=lambda v: repr(v)[:60])
def test_safe_string_passes(text: str, policy: str) -> None:
    verdict = check(text, POLICIES[policy])
    assert verdict.ok, verdict.findings
    assert not [f for f in verdict.findings if f.severity is Severity.ERROR]
    assert verdict.commands


def test_warned_corpus_is_not_empty() -> None:
    assert len(WARNED) >= 15


@pytest.mark.parametrize(("text", "policy", "codes"), WARNED, ids=lambda v: repr(v)[:60])
def test_text_in_single_quotes_passes_with_its_warnings(
    text: str, policy: str, codes: dict[str, tuple[str, ...]]
) -> None:
    verdict = check(text, POLICIES[policy])
    assert verdict.ok, verdict.findings
    found = {f.code.value: f.shells for f in verdict.findings}
    assert found == codes
    assert all(f.severity is Severity.WARNING for f in verdict.findings)


@pytest.mark.parametrize(("text", "policy", "codes"), WARNED, ids=lambda v: repr(v)[:60])
def test_text_in_single_quotes_is_refused_under_strict_text(
    text: str, policy: str, codes: dict[str, tuple[str, ...]]
) -> None:
    verdict = check(text, POLICIES[policy].strict_text())
    assert not verdict.ok
    assert {f.code.value for f in verdict.errors} == set(codes)
