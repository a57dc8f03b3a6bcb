"""Program names are decided by an allow-list, in every policy and every position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmonexec.errors import InputError
from qmonexec.shell import Policy, Severity, check
from qmonexec.shell.builtins import INERT, NEVER_PROGRAMS
from qmonexec.shell.policy import program_problem
from qmonexec.shell.runners import runs_code
from tests.helpers.cli import cli

from .corpus import SAVE

DEFAULT_PROGRAMS = {"dd", "cat", "gzip", "bzip2", "xz", "lzop", "zstd", "tee"}
_NAME = st.text(st.sampled_from("abcdefgz019_.+-/"), min_size=1, max_size=12)


def test_every_policy_allows_the_rendered_programs_plus_tee() -> None:
    assert set(Policy.command().programs) == DEFAULT_PROGRAMS
    assert set(Policy.default().programs) == DEFAULT_PROGRAMS - {"dd"}


@settings(max_examples=300, deadline=None, database=None)
@given(_NAME)
def test_a_name_outside_the_allow_list_is_refused_by_the_command_policy(name: str) -> None:
    base = name.rsplit("/", 1)[-1]
    allowed = name in DEFAULT_PROGRAMS or (name.startswith("/") and base in DEFAULT_PROGRAMS)
    verdict = check(f"exec:'{name}' /x", Policy.command())
    assert verdict.ok == allowed, verdict.findings


@settings(max_examples=300, deadline=None, database=None)
@given(_NAME)
def test_a_name_outside_the_allow_list_is_refused_as_a_compressor_stage(name: str) -> None:
    base = name.rsplit("/", 1)[-1]
    allowed = base in {"gzip", "bzip2", "xz", "lzop", "zstd", "cat", "tee"} and (
        name == base or name.startswith("/"))
    verdict = check(SAVE.replace("gzip -c", f"'{name}' -c" if base != name or
                                 base not in ("cat", "tee") else f"'{name}'"), Policy.default())
    assert verdict.ok == allowed, verdict.findings


def test_an_absolute_path_counts_as_its_last_component() -> None:
    assert check("exec:/usr/bin/tee /x", Policy.command()).ok
    assert check(SAVE.replace("gzip -c", "/bin/gzip -c"), Policy.default()).ok


def test_a_path_a_shell_binds_a_builtin_to_is_refused_even_with_its_basename_allowed() -> None:
    verdict = check("exec:/opt/ast/bin/cat /x", Policy.command())
    assert not verdict.ok and verdict.has("evaluates-code")
    with pytest.raises(InputError, match="builtin"):
        Policy.command().allowing_commands("/opt/ast/bin/cat")


@pytest.mark.parametrize("name", ["./pigz", "a/b", "-i", "+x", "--help", "", "pi gz", "/usr/bin/"])
def test_a_name_that_can_never_be_a_program_is_an_input_error(name: str) -> None:
    with pytest.raises(InputError, match="cannot allow the program"):
        Policy.default().allowing_commands(name)


@pytest.mark.parametrize("name", ["eval", "exec", "compgen", "emulate", "noglob", "getln",
                                  "zparseopts", "private", "printf", "test", "[", "command"])
def test_a_builtin_added_by_a_caller_is_an_input_error_naming_the_shells(name: str) -> None:
    with pytest.raises(InputError, match="builtin, reserved word or alias"):
        Policy.command().allowing_commands(name)


def test_an_inert_builtin_is_refused_unless_a_caller_adds_it() -> None:
    assert not check("exec:true", Policy.command()).ok
    for name in sorted(INERT - {":"}):
        assert check(f"exec:{name} '$(x)'", Policy.command().allowing_commands(name)).ok


@pytest.mark.parametrize("text", [
    "exec:compgen -W '$(touch F)' x", "exec:compgen -C 'touch F' x", "exec:exec eval 'touch F'",
    "exec:exec -a x eval 'touch F'", "exec:emulate sh -c 'touch F'", "exec:noglob eval 'touch F'",
    "exec:getln 'a[$(touch F)]'", "exec:zparseopts x='a[$(touch F)]'",
    "exec:private 'a[$(touch F)]'", "exec:-i", "exec:+i", "exec:./x", "exec:a/b",
])
def test_a_builtin_or_odd_name_is_refused_by_the_command_policy(text: str) -> None:
    assert not check(text, Policy.command()).ok


def test_a_code_running_program_is_refused_unless_named() -> None:
    verdict = check("exec:env gzip -c", Policy.command())
    assert not verdict.ok and verdict.has("program-runs-code")


def test_a_named_code_running_program_passes_with_a_warning_that_it_is_unchecked() -> None:
    verdict = check("exec:/usr/bin/env gzip -c", Policy.command().allowing_commands("env"))
    assert verdict.ok
    assert [(f.code.value, f.severity) for f in verdict.findings] == [
        ("runs-code-unchecked", Severity.WARNING)]


def test_every_code_runner_is_a_program_name_not_a_builtin() -> None:
    assert not [name for name in NEVER_PROGRAMS if runs_code(name) and "/" not in name
                and program_problem(name) is None]


def test_the_library_hint_names_allowing_commands() -> None:
    verdict = check("exec:pigz -c", Policy.command())
    assert "Policy.allowing_commands()" in verdict.errors[0].message


@pytest.mark.parametrize("cmd", ["eval touch${IFS}/tmp/x", "./pigz -c", "exec gzip -c"])
def test_a_compress_cmd_that_names_no_allowable_program_is_exit_2(
    cmd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = cli(capsys, "uri", "save", "/vm/g.img", "--compress-cmd", cmd)
    assert (status, out) == (2, "")
    assert "cannot allow the program" in err


def test_a_decompress_cmd_builtin_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, err = cli(capsys, "uri", "restore", "/vm/g.img", "--decompress-cmd", "eval x")
    assert status == 2 and "builtin" in err


_ALLOW_TRAP = ["--allow-program", "trap"]


@pytest.mark.parametrize("argv", [["check", *_ALLOW_TRAP, "exec:trap x"],
                                  ["explain", *_ALLOW_TRAP, "exec:trap x"],
                                  ["qmp", "--qmp", "/nonexistent", *_ALLOW_TRAP, "query-status"],
                                  ["uri", "command", *_ALLOW_TRAP, "--", "trap", "x"]])
def test_allow_program_of_a_builtin_is_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _out, err = cli(capsys, *argv)
    assert status == 2 and "builtin" in err


@pytest.mark.parametrize("command", ["check", "explain"])
def test_a_cli_hint_names_the_allow_program_option(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _status, out, err = cli(capsys, command, "--policy", "command", "exec:pigz -c")
    assert "--allow-program" in out + err
    assert "Policy.allowing_commands" not in out + err


def test_uri_command_takes_allow_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "uri", "command", "--", "pigz", "-c")[0] == 1
    status, out, _err = cli(capsys, "uri", "command", "--allow-program", "pigz", "--", "pigz",
                            "-c")
    assert (status, out) == (0, "exec:pigz -c\n")
