"""The CLI registers only the invoked command's module, and that changes nothing users see."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from qmonexec.cli import COMMAND_MODULES, COMMAND_OWNERS, build_parser, main


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_command_has_its_owner_listed() -> None:
    owners: dict[str, str] = {}
    for name in COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"qmonexec.cli.{name}").register(sub)
        owners.update(dict.fromkeys(_commands(parser), name))
    assert owners == COMMAND_OWNERS


@pytest.mark.parametrize("command", sorted(COMMAND_OWNERS))
def test_a_command_parser_is_the_same_alone(command: str) -> None:
    full = _commands(build_parser())[command]
    alone = _commands(build_parser(command))
    assert set(alone) == {c for c, m in COMMAND_OWNERS.items() if m == COMMAND_OWNERS[command]}
    assert alone[command].format_help() == full.format_help()


@pytest.mark.parametrize("argv", [["--help"], ["-h", "uri"], ["bogus"]])
def test_anything_else_gets_the_full_parser(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status in (0, 2)
    for command in COMMAND_OWNERS:
        assert command in out + err


def test_uri_save_loads_neither_the_other_commands_nor_the_full_validator() -> None:
    code = (
        "import sys\n"
        "from qmonexec.cli import main\n"
        "status = main(['uri', 'save', '/var/lib/vm/guest.img', '--offset', '8192',"
        " '--compress', 'gzip'])\n"
        "print(status, sorted(m for m in sys.modules if m.startswith('qmonexec')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    status, _, loaded = out.partition(" ")
    assert status == "0"
    for module in ("cli.check", "cli.qmp", "cli.save", "shell.lexer", "shell.parser",
                   "shell.nodes", "shell.words", "shell.layers", "shell.shapes"):
        assert f"'qmonexec.{module}'" not in loaded
