"""Parser: lists, and-or lists, pipelines, simple commands, groups and syntax errors."""

from __future__ import annotations

import pytest

from qmonexec.shell.findings import Code
from qmonexec.shell.nodes import BraceGroup, Script, SimpleCommand, Subshell
from qmonexec.shell.parser import MAX_DEPTH, parse_text
from tests.helpers.printer import print_word


def parsed(text: str) -> Script:
    script, rep = parse_text(text)
    assert script is not None, rep.items
    return script


def error(text: str) -> Code:
    script, rep = parse_text(text)
    assert script is None
    return rep.items[-1][0]


def test_list_with_separators_and_background() -> None:
    items = parsed("a; b & c\nd").body.items
    assert [i.sep for i in items] == [";", "&", ";", None]
    assert [i.sep_pos.offset for i in items if i.sep_pos] == [1, 5, 8]


def test_and_or_and_pipelines() -> None:
    ao = parsed("a | b && c || ! d | e").body.items[0].command
    assert ao.ops == ["&&", "||"]
    assert [len(p.commands) for p in ao.pipelines] == [2, 1, 2]
    assert [p.negated for p in ao.pipelines] == [False, False, True]


def test_newlines_allowed_after_operators() -> None:
    ao = parsed("a &&\n\n b |\n c").body.items[0].command
    assert len(ao.pipelines) == 2 and len(ao.pipelines[1].commands) == 2


def test_simple_command_assignments_words_redirections() -> None:
    script = parsed("A=1 B='x y' dd if=/x 2>/e bs=4 <>/t")
    cmd = script.body.items[0].command.pipelines[0].commands[0]
    assert isinstance(cmd, SimpleCommand)
    assert [a.name for a in cmd.assignments] == ["A", "B"]
    assert [print_word(w) for w in cmd.words] == ["dd", "if=/x", "bs=4"]
    assert [(r.fd, r.op, print_word(r.target)) for r in cmd.redirects] == [
        (2, ">", "/e"), (None, "<>", "/t"),
    ]  # fmt: skip


def test_assignment_only_before_the_command_name() -> None:
    cmd = parsed("dd A=1").body.items[0].command.pipelines[0].commands[0]
    assert isinstance(cmd, SimpleCommand) and not cmd.assignments and len(cmd.words) == 2


def test_brace_group_and_subshell_with_redirections() -> None:
    pipe = parsed("{ a && b; } 1<>/t | ( c ) 2>/e").body.items[0].command.pipelines[0]
    group, sub = pipe.commands
    assert isinstance(group, BraceGroup) and isinstance(sub, Subshell)
    assert group.redirects[0].op == "<>" and group.redirects[0].fd == 1
    assert len(group.body.items[0].command.pipelines) == 2
    assert sub.redirects[0].fd == 2


def test_braces_are_reserved_only_in_command_position() -> None:
    cmd = parsed("echo { } x").body.items[0].command.pipelines[0].commands[0]
    assert isinstance(cmd, SimpleCommand) and len(cmd.words) == 4
    inner = parsed("{ echo }; }").body.items[0].command.pipelines[0].commands[0]
    assert isinstance(inner, BraceGroup)
    words = inner.body.items[0].command.pipelines[0].commands[0].words  # type: ignore[union-attr]
    assert [print_word(w) for w in words] == ["echo", "}"]
    assert isinstance(parsed("{a").body.items[0].command.pipelines[0].commands[0], SimpleCommand)


def test_quoted_brace_is_a_word() -> None:
    cmd = parsed("'{' a").body.items[0].command.pipelines[0].commands[0]
    assert isinstance(cmd, SimpleCommand)


@pytest.mark.parametrize(
    "text",
    ["{ a }", "{ a", "{ }", "}", "( a", "a )", "| a", "a |", "a &&", "a ; ;", "a >", "a > ;",
     "&", "; a", "a <<x", "a (", "a ;;"],
)  # fmt: skip
def test_syntax_errors(text: str) -> None:
    assert error(text) is Code.SYNTAX_ERROR


def test_empty_string() -> None:
    assert error("  \n ") is Code.EMPTY_COMMAND


def test_nesting_limit() -> None:
    assert error("{ " * (MAX_DEPTH + 1) + "a;" + " }" * (MAX_DEPTH + 1)) is Code.TOO_DEEP
    assert parsed("{ " * MAX_DEPTH + "a;" + " };" * MAX_DEPTH)


def test_command_limit() -> None:
    assert error("a|" * 70 + "a") is Code.TOO_MANY_COMMANDS


def test_reserved_words_are_reported() -> None:
    script, rep = parse_text("if a")
    assert script is not None and Code.RESERVED_WORD in rep.codes()
    script, rep = parse_text("a if")
    assert Code.RESERVED_WORD not in rep.codes()
