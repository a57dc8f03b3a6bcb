"""QMP commands with a QEMU 8.2+ exec channel: the argv is judged as its quoted command."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmonexec.build import restore_channel, save_channel
from qmonexec.monitor import migrate_exec_channel, to_json
from qmonexec.quoting import quote_words
from qmonexec.shell import Policy, check
from qmonexec.shell.layers import channel_program
from qmonexec.spec import RestoreSpec, SaveSpec


def channel_command(argv: list[Any], *, incoming: bool = False, **extra: Any) -> str:
    addr: dict[str, Any] = {"transport": "exec", "args": argv}
    channel: dict[str, Any] = {"channel-type": "main", "addr": addr}
    arguments: dict[str, Any] = {"channels": [channel], **extra}
    name = "migrate-incoming" if incoming else "migrate"
    return json.dumps({"execute": name, "arguments": arguments})


def codes(text: str, policy: Policy | None = None) -> set[str]:
    return {f.code.value for f in check(text, policy).errors}


def test_a_rendered_save_channel_is_safe_as_a_save() -> None:
    text = to_json(migrate_exec_channel(save_channel(SaveSpec("/vm/a.img", offset=65536))))
    verdict = check(text)
    assert verdict.ok and verdict.shape == "save" and verdict.direction == "outgoing"
    assert verdict.commands[0].argv[:2] == ("dd", "of=/vm/a.img")


def test_a_rendered_restore_channel_is_safe_as_a_restore() -> None:
    argv = restore_channel(RestoreSpec("/vm/a.img", offset=65536))
    verdict = check(to_json(migrate_exec_channel(argv, incoming=True)))
    assert verdict.ok and verdict.shape == "restore" and verdict.direction == "incoming"


def test_a_channel_that_runs_a_shell_is_refused() -> None:
    text = channel_command(["/bin/sh", "-c", "touch /tmp/pwned"])
    assert not check(text).ok


def test_shell_text_in_a_channel_argument_stays_one_literal_word() -> None:
    verdict = check(channel_command(["/bin/cat", "; touch /tmp/pwned"]), Policy.command())
    assert verdict.ok and verdict.commands[0].argv == ("cat", "; touch /tmp/pwned")


def test_a_program_outside_the_system_directories_keeps_its_path() -> None:
    assert channel_program("/usr/bin/dd") == "dd" and channel_program("/bin/cat") == "cat"
    assert channel_program("/opt/bin/dd") == "/opt/bin/dd"
    assert channel_program("/usr/bin/../bin/dd") == "/usr/bin/../bin/dd"


@pytest.mark.parametrize(("argv", "extra", "code"), [
    ([], {}, "qmp-type"),
    (["/bin/cat", 1], {}, "qmp-type"),
    (["/bin/cat"], {"uri": "exec:cat"}, "qmp-unexpected-key"),
    (["/bin/cat"], {"detach": True}, "qmp-unexpected-key"),
], ids=["empty-argv", "non-string", "uri-beside", "other-argument"])
def test_a_channel_command_that_is_not_exactly_one_exec_channel_is_refused(
    argv: list[Any], extra: dict[str, Any], code: str,
) -> None:
    assert code in codes(channel_command(argv, **extra), Policy.command())


def test_another_transport_or_two_channels_is_refused() -> None:
    file_channel = {"channel-type": "main",
                    "addr": {"transport": "file", "filename": "/vm/a", "offset": 0}}
    text = json.dumps({"execute": "migrate", "arguments": {"channels": [file_channel]}})
    assert "qmp-type" in codes(text)
    main = {"channel-type": "main", "addr": {"transport": "exec", "args": ["/bin/cat"]}}
    two = json.dumps({"execute": "migrate", "arguments": {"channels": [main, main]}})
    assert "qmp-type" in codes(two, Policy.command())


def test_a_save_channel_on_migrate_incoming_is_refused_by_direction() -> None:
    argv = save_channel(SaveSpec("/vm/a.img", offset=65536))
    assert codes(to_json(migrate_exec_channel(argv, incoming=True))) == {"direction-mismatch"}


@given(st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                        max_size=10), min_size=1, max_size=4))
def test_the_validator_judges_a_channel_as_the_qmp_client_does(args: list[str]) -> None:
    from qmonexec.errors import UnsafeCommandError
    from qmonexec.qmp.guard import check_command

    argv = ["/bin/cat", *args]
    command = json.loads(channel_command(argv))
    try:
        check_command("migrate", command["arguments"], policy=Policy.command())
        gate = True
    except UnsafeCommandError:
        gate = False
    assert check(channel_command(argv), Policy.command()).ok == gate
    assert check("exec:" + quote_words(["cat", *args]), Policy.command()).ok == gate
