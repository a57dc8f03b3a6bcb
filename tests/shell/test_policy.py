"""Policy: the allow-list of shapes, programs, options, dd operands and redirections."""

from __future__ import annotations

import pytest

from qmonexec.errors import InputError
from qmonexec.shell import Policy, ProgramRule, check

from .corpus import LIBVIRT, RAW, REST, SAVE, STATUS


@pytest.mark.parametrize(
    ("text", "shape"),
    [(RAW, "save"), (SAVE, "save"), (LIBVIRT, "save"), (STATUS, "save"), (REST, "restore"),
     ("exec:gzip -c", "command")],
)  # fmt: skip
def test_default_policy_shapes(text: str, shape: str) -> None:
    verdict = check(text)
    assert verdict.ok and verdict.shape == shape


def test_shapes_can_be_restricted() -> None:
    only_restore = Policy.default().only("restore")
    assert check(REST, only_restore).ok
    assert check(SAVE, only_restore).codes == ["unexpected-shape"]
    with pytest.raises(InputError):
        Policy.default().only("everything")


def test_command_policy_accepts_any_literal_single_command_only() -> None:
    policy = Policy.command()
    assert check("exec:/usr/bin/tee '/x y' -a", policy).ok
    assert not check(SAVE, policy).ok
    assert not check(REST + " | cat", policy).ok


def test_allowing_commands_adds_programs_with_their_arguments() -> None:
    text = SAVE.replace("gzip -c", "pigz -c -p 2")
    assert check(text).codes == ["command-not-allowed"]
    assert check(text, Policy.default().allowing_commands("pigz")).ok
    strict = Policy.default().allowing_commands("pigz", rule=ProgramRule("cdp", levels=(1, 9)))
    assert check(text, strict).codes == ["unexpected-argument"]
    assert check(SAVE.replace("gzip -c", "pigz -c -p"), strict).ok


def test_allowing_redirects() -> None:
    text = "exec:/bin/cat >/var/lib/vm/stream"
    assert check(text, Policy.command()).codes == ["truncating-redirect"]
    assert check(text, Policy.command().allowing_redirects(">")).ok


def test_expected_offset() -> None:
    assert check(SAVE, Policy.default().expecting_offset(8192)).ok
    verdict = check(SAVE, Policy.default().expecting_offset(4096))
    assert verdict.codes == ["offset-mismatch"]
    assert "seek=1" in verdict.findings[0].message


def test_truncating_redirect_message_says_why() -> None:
    verdict = check(SAVE.replace("1<>", ">"))
    (finding,) = verdict.findings
    assert finding.code.value == "truncating-redirect"
    assert "header" in finding.message and "1<>" in finding.message


def test_busybox_block_size_warning_does_not_fail() -> None:
    verdict = check(LIBVIRT)
    assert verdict.ok
    assert verdict.codes == ["dd-block-sizes"]
    assert verdict.findings[0].severity.value == "warning"
    assert verdict.findings[0].shells == ("busybox",)


def test_status_form_requires_one_directory_and_every_file() -> None:
    assert check(STATUS).ok
    moved = STATUS.replace("/run/qmonexec/1/compress.err", "/tmp/compress.err")
    assert "status-file" in check(moved).codes


def test_policies_are_hashable_and_comparable() -> None:
    assert Policy.default() == Policy.default()
    assert hash(Policy.default()) == hash(Policy.default())
    assert Policy.default() != Policy.command()


@pytest.mark.parametrize(
    ("rule", "arg", "ok"),
    [
        (ProgramRule("cd", levels=(1, 9)), "-9c", True),
        (ProgramRule("cd", levels=(1, 9)), "-0", False),
        (ProgramRule("c", numeric_short="T"), "-cT4", True),
        (ProgramRule("c", numeric_short="T"), "-T", False),
        (ProgramRule("c", numeric_long=frozenset({"threads"})), "--threads=3", True),
        (ProgramRule("c", frozenset({"fast"})), "--fas", False),
        (ProgramRule("c"), "file", False),
        (ProgramRule(any_argument=True), "file", True),
    ],
)  # fmt: skip
def test_program_rule_options(rule: ProgramRule, arg: str, ok: bool) -> None:
    problem, _flags = rule.check_option(arg)
    assert (problem is None) is ok
