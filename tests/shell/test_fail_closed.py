"""The validator fails closed: a verdict is ok only when every part was proved safe.

Each attack here was once accepted; each limit of the analysis, when reached, is
an error of the "unproven" kind that no policy option turns off; and reporting
(grouping, caps on what is printed) never changes a verdict.
"""

from __future__ import annotations

import json

import pytest

from qmonexec.errors import UnsafeCommandError
from qmonexec.qmp import check_command
from qmonexec.shell import Policy, check
from qmonexec.shell import findings as findings_module
from qmonexec.shell.findings import UNPROVEN, Code, Reporter, Severity, group_findings
from qmonexec.shell.lexer import MAX_OPERATORS
from qmonexec.shell.nodes import Lit, Word
from qmonexec.shell.parser import MAX_COMMANDS, MAX_DEPTH
from qmonexec.shell.position import Pos
from qmonexec.shell.words import analyze_word

SAVE = "exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>"
CONTROL_NAME = "'/tmp/x" + "\x01" * 200 + "'"
OVERFLOW = SAVE + CONTROL_NAME + "; touch /tmp/pwned"

POLICIES = {
    "default": Policy.default(),
    "command": Policy.command(),
    "strict": Policy.default().strict_text(),
    "with-offset": Policy.default().expecting_offset(8192),
}


def _unproven(verdict_codes: list[str]) -> set[str]:
    return set(verdict_codes) & {c.value for c in UNPROVEN}


# -- the finding-cap overflow -----------------------------------------------------


def test_warnings_never_push_an_error_out_of_the_verdict() -> None:
    verdict = check(OVERFLOW)
    assert not verdict.ok
    assert verdict.has(Code.COMMAND_SEPARATOR)


def test_the_overflow_is_refused_inside_qmp_json() -> None:
    text = json.dumps({"execute": "migrate", "arguments": {"uri": OVERFLOW}})
    assert not check(text).ok


def test_the_overflow_is_refused_under_the_command_policy() -> None:
    assert not check("exec:tee " + CONTROL_NAME + "; touch /tmp/pwned", Policy.command()).ok


def test_the_overflow_is_refused_by_the_qmp_client_before_sending() -> None:
    with pytest.raises(UnsafeCommandError):
        check_command("migrate", {"uri": OVERFLOW})


def test_identical_findings_are_kept_once_with_their_count() -> None:
    verdict = check(SAVE + "'/tmp/x" + "\x01" * 250 + "'")
    controls = [f for f in verdict.findings if f.code is Code.CONTROL_CHARACTER]
    assert [f.count for f in controls] == [250]


def test_a_name_with_250_control_characters_prints_one_group() -> None:
    verdict = check(SAVE + "'/tmp/x" + "\x01" * 250 + "'")
    assert len(group_findings(verdict.findings)) == 1


def test_grouping_keeps_the_total_count_of_mixed_characters() -> None:
    mixed = "".join(chr(c) for c in range(1, 32) if c not in (9, 10)) * 10
    verdict = check(SAVE + "'/tmp/x" + mixed + "'")
    groups = group_findings(verdict.findings)
    assert len(groups) == 1
    assert groups[0].count == len(mixed)


def test_a_verdict_is_the_same_whatever_is_printed() -> None:
    verdict = check(OVERFLOW)
    assert sum(f.count for f in verdict.errors) >= 2
    assert sum(g.count for g in group_findings(verdict.findings)) == sum(
        f.count for f in verdict.findings
    )


# -- every limit is an error --------------------------------------------------------


def test_too_many_distinct_findings_is_an_unproven_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(findings_module, "MAX_FINDINGS", 5)
    verdict = check("exec:tee " + " ".join(f"'a{k}\x01{chr(2 + k)}'" for k in range(20)))
    assert not verdict.ok
    assert verdict.has(Code.TOO_MANY_FINDINGS)
    too_many = [f for f in verdict.findings if f.code is Code.TOO_MANY_FINDINGS]
    assert too_many[0].severity is Severity.ERROR


def test_reaching_the_finding_limit_stops_even_a_string_of_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(findings_module, "MAX_FINDINGS", 3)
    name = "'/tmp/x" + "".join(chr(c) for c in range(1, 9)) + "'"
    assert not check(SAVE + name).ok


def test_too_many_operators_is_an_unproven_error() -> None:
    verdict = check("exec:" + " | ".join(["cat"] * (MAX_OPERATORS + 2)))
    assert not verdict.ok
    assert _unproven(verdict.codes)


def test_too_many_commands_is_an_unproven_error() -> None:
    verdict = check("exec:" + " && ".join(["cat"] * (MAX_COMMANDS + 1)))
    assert not verdict.ok
    assert verdict.has(Code.TOO_MANY_COMMANDS)


def test_groups_nested_too_deep_are_an_unproven_error() -> None:
    verdict = check("exec:" + "{ " * (MAX_DEPTH + 1) + "cat" + "; }" * (MAX_DEPTH + 1))
    assert not verdict.ok
    assert verdict.has(Code.TOO_DEEP)


def test_json_nested_too_deep_is_an_unproven_error() -> None:
    inner = json.dumps({"uri": SAVE + "/tmp/x"})
    text = '{"execute": "migrate", "arguments": ' + '{"a": ' * 70 + inner + "}" * 70 + "}"
    verdict = check(text)
    assert not verdict.ok
    assert verdict.has(Code.TOO_DEEP)


def test_a_string_longer_than_execve_takes_is_an_unproven_error() -> None:
    verdict = check(SAVE + "/" + "a" * 140_000)
    assert not verdict.ok
    assert verdict.has(Code.TOO_LONG)


def test_using_up_the_work_budget_is_an_unproven_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_module, "MAX_STEPS", 10)
    verdict = check("tee " + " ".join(["'a'b"] * 20), Policy.command(), form="shell")
    assert not verdict.ok
    assert verdict.has(Code.TOO_MUCH_WORK)


def test_the_work_budget_does_not_depend_on_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_module, "MAX_STEPS", 40)
    text = "tee " + " ".join(["'a'b"] * 20)
    first = check(text, Policy.command(), form="shell")
    assert first.has(Code.TOO_MUCH_WORK)
    assert check(text, Policy.command(), form="shell").codes == first.codes


def test_a_word_part_of_an_unknown_kind_is_an_unproven_error() -> None:
    class Strange:
        pos = Pos(0, 1, 1)

    rep = Reporter()
    word = Word(Pos(0, 1, 1), 3, [Lit(Pos(0, 1, 1), "ab"), Strange()])  # type: ignore[list-item]
    info = analyze_word(word, rep)
    assert not info.literal
    assert Code.UNHANDLED_CONSTRUCT in rep.codes()


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_policy_option_turns_an_unproven_error_off(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(findings_module, "MAX_STEPS", 10)
    verdict = check(SAVE[5:] + "/tmp/x", POLICIES[name], form="shell")
    assert not verdict.ok
    assert verdict.has(Code.TOO_MUCH_WORK)


def test_every_unproven_code_is_an_error() -> None:
    for code in UNPROVEN:
        assert findings_module.CODE_INFO[code].severity is Severity.ERROR


# -- special paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/dev/tcp/127.0.0.1/47123",
        "/dev/udp/10.0.0.1/9000",
        "/dev//tcp/10.0.0.1/9000",
        "/tmp/../dev/tcp/h/1",
        "/dev/./udp/h/1",
        "/dev/fd/3",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/tty",
        "/proc/self/fd/1",
        "/proc/1/fd/0",
        "/proc/1/task/1/fd/0",
        "/proc/thread-self/fd/1",
        "/proc/self/root/tmp/x",
    ],
)
def test_a_special_path_as_the_save_target_is_refused(path: str) -> None:
    verdict = check(SAVE + path)
    assert not verdict.ok
    assert verdict.has(Code.SPECIAL_PATH)


def test_a_special_path_as_the_restore_source_is_refused() -> None:
    verdict = check("exec:dd if=/dev/stdin bs=4096 skip=2")
    assert verdict.has(Code.SPECIAL_PATH)


def test_a_special_path_as_a_status_file_is_refused() -> None:
    text = (
        "exec:{ { dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/x "
        "&& : >/dev/fd/write.ok || : >/dev/fd/write.failed; } 2>/dev/fd/write.err"
    )
    verdict = check(text)
    assert not verdict.ok
    assert verdict.has(Code.SPECIAL_PATH)


def test_the_network_special_path_names_the_shells_that_connect() -> None:
    verdict = check(SAVE + "/dev/tcp/127.0.0.1/47123")
    special = next(f for f in verdict.findings if f.code is Code.SPECIAL_PATH)
    assert set(special.shells) == {"bash", "bash-posix", "ksh93"}


def test_an_ordinary_path_under_dev_is_accepted() -> None:
    assert check(SAVE + "/dev/shm/vm.img").ok


# -- HMP read the way QEMU reads it --------------------------------------------------------


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\v", "\f", "\r", "\n \t"])
def test_hmp_after_leading_blanks_is_peeled_as_hmp(blank: str) -> None:
    verdict = check(blank + 'migrate "exec:a; b"', Policy.command())
    assert not verdict.ok
    assert [layer.name for layer in verdict.layers][:1] == ["hmp"]


@pytest.mark.parametrize("blank", ["\v", "\f", "\r"])
def test_hmp_arguments_are_separated_by_every_blank_qemu_skips(blank: str) -> None:
    verdict = check(f'migrate{blank}-d{blank}"{SAVE}/tmp/x"{blank}')
    assert verdict.ok
    assert verdict.direction == "outgoing"


def test_a_human_monitor_command_line_is_always_read_as_hmp() -> None:
    with pytest.raises(UnsafeCommandError):
        check_command("human-monitor-command", {"command-line": '\nmigrate "exec:a; b"'})


def test_a_uri_argument_is_never_read_as_hmp() -> None:
    text = 'exec:migrate "exec:cat"'
    with pytest.raises(UnsafeCommandError):
        check_command("migrate", {"uri": text})


# -- dd's offset range -------------------------------------------------------------------


def test_an_offset_past_what_dd_accepts_is_refused() -> None:
    verdict = check("exec:dd if=/x bs=1048576 skip=99999999999999")
    assert not verdict.ok
    assert verdict.has(Code.DD_OPERAND)
