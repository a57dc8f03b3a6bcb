"""Names the shells handle themselves are never programs: checked against the shells here.

The table in :mod:`qmonexec.shell.builtins` is compared with what each of the ten
shell setups reports (``tests/shell/shellnames.py``), every reported name is
refused by every policy even when a caller adds it, and each name of
:data:`~qmonexec.shell.builtins.INERT` is run with hostile arguments in every
shell to show that it runs nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.shell import Policy, check
from qmonexec.shell.builtins import INERT, NEVER_PROGRAMS, SHELL_NAMES
from qmonexec.shell.policy import program_problem
from tests.helpers.support import shell_argv

from .shellnames import LABELS, enumerate_names

#: Argument lists that make some builtin run ``: >FLAG`` (as code, a subscript or an option).
HOSTILE = (
    "'$(: >{f})'",
    "'`: >{f}`'",
    "'a[$(: >{f})]'",
    "-c ': >{f}'",
    "-v 'a[$(: >{f})]' 1",
    "-e '$(: >{f})'",
    "-- ': >{f}'",
    "x='a[$(: >{f})]'",
    "-C ': >{f}' x",
    "-W '$(: >{f})' x",
)


@pytest.mark.parametrize("label", LABELS)
def test_the_table_holds_exactly_what_the_shell_reports(label: str) -> None:
    assert enumerate_names(label) == SHELL_NAMES[label]


@pytest.mark.parametrize("label", LABELS)
def test_every_name_a_shell_handles_is_refused_even_when_added(label: str) -> None:
    for name in sorted(enumerate_names(label) - INERT):
        assert program_problem(name) is not None, name
        with pytest.raises(InputError, match="builtin, reserved word or alias"):
            Policy.command().allowing_commands(name)
        verdict = check(f"exec:'{name}' /x", Policy.command())
        assert not verdict.ok, name


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("name", sorted(INERT))
def test_an_inert_builtin_runs_nothing_with_hostile_arguments(
    label: str, name: str, tmp_path: Path
) -> None:
    flag = tmp_path / "ran"  # tmp_path holds only safe characters
    for args in HOSTILE:
        script = f"{name} {args.format(f=flag)}"
        subprocess.run([*shell_argv(label), "-c", script], capture_output=True, timeout=30,
                       check=False, cwd=tmp_path, stdin=subprocess.DEVNULL)  # fmt: skip
        assert not flag.exists(), script


def test_the_hostile_arguments_do_run_code_in_a_builtin_that_is_not_inert(tmp_path: Path) -> None:
    # The probe must be able to fail: eval runs the first argument list.
    flag = tmp_path / "ran"
    script = f"eval {HOSTILE[0].format(f=flag)}"
    subprocess.run([*shell_argv("dash"), "-c", script], capture_output=True, timeout=30,
                   check=False, cwd=tmp_path)  # fmt: skip
    assert flag.exists()


def test_only_the_inert_names_are_exempt() -> None:
    assert frozenset().union(*SHELL_NAMES.values()) - NEVER_PROGRAMS == INERT


@pytest.mark.parametrize("path", ["/opt/ast/bin/../bin/cat", "//opt/ast/bin/cat",
                                  "/opt/ast/./bin/cat"])
def test_ksh93_binds_its_builtin_to_the_exact_path_only(path: str, tmp_path: Path) -> None:
    # Why only the listed spelling is refused: any other spelling is looked up as a file.
    argv = shell_argv("ksh93")
    bound = subprocess.run([*argv, "-c", "/opt/ast/bin/cat --version"], capture_output=True,
                           text=True, timeout=30, check=False, cwd=tmp_path)  # fmt: skip
    other = subprocess.run([*argv, "-c", f"{path} --version"], capture_output=True, text=True,
                           timeout=30, check=False, cwd=tmp_path)  # fmt: skip
    assert "ksh" in bound.stdout + bound.stderr
    assert "not found" in other.stderr
