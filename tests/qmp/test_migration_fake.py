"""Migration helpers against a scripted fake server: status parsing, waiting, failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from qmonexec import monitor
from qmonexec.errors import InputError
from qmonexec.qmp import MigrationError, MigrationStatus, QMPClient, Timeout
from tests.helpers.fake_qmp import FakeQMPServer, Peer

Fake = Callable[..., FakeQMPServer]


def test_status_parsing_empty_means_none() -> None:
    status = MigrationStatus.from_qmp({})
    assert status.status == "none" and status.total is None and not status.finished


def test_status_parsing_progress_and_unknown_values_kept() -> None:
    status = MigrationStatus.from_qmp(
        {
            "status": "wait-for-the-future",
            "ram": {"total": 100, "transferred": 25, "remaining": 75, "mbps": 268.4},
            "total-time": 12,
            "extra": {"whatever": True},
        }
    )
    assert status.status == "wait-for-the-future"
    assert (status.total, status.transferred, status.remaining) == (100, 25, 75)
    assert status.mbps == 268.4 and status.fraction == 0.25 and status.total_time == 12
    assert status.raw["extra"] == {"whatever": True}
    odd = MigrationStatus.from_qmp({"status": 7, "ram": "nope", "error-desc": ["x"]})
    assert odd.status == "none" and odd.total is None and odd.error_desc is None


def _migration_script(statuses: list[dict[str, Any]]) -> Callable[[Peer], None]:
    def script(peer: Peer) -> None:
        peer.negotiate()
        queue = list(statuses)

        def handler(peer: Peer, command: dict[str, Any]) -> bool:
            if command["execute"] == "query-migrate":
                peer.reply(command, queue.pop(0) if len(queue) > 1 else queue[0])
                return True
            return False

        peer.serve(handler)

    return script


def test_wait_migration_reports_progress_until_completed(fake: Fake) -> None:
    statuses: list[dict[str, Any]] = [
        {},
        {"status": "setup"},
        {"status": "active", "ram": {"total": 10, "transferred": 5, "remaining": 5, "mbps": 1.0}},
        {"status": "completed", "ram": {"total": 10, "transferred": 10, "remaining": 0}},
    ]
    server = fake(_migration_script(statuses))
    seen: list[str] = []
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.migrate("tcp:127.0.0.1:1")
        final = qmp.wait_migration(
            5, on_progress=lambda s: seen.append(s.status), poll_interval=0.01
        )
    assert final.succeeded and final.transferred == 10
    assert seen == ["none", "setup", "active", "completed"]
    migrate = server.received_messages()[1]
    assert migrate == {
        "execute": "migrate",
        "arguments": {"uri": "tcp:127.0.0.1:1"},
        "id": migrate["id"],
    }


@pytest.mark.parametrize("final", ["failed", "cancelled"])
def test_wait_migration_raises_with_error_desc(fake: Fake, final: str) -> None:
    statuses = [{"status": "active"}, {"status": final, "error-desc": "Unable to write to command"}]
    server = fake(_migration_script(statuses))
    with (
        QMPClient(server.address, timeout=2) as qmp,
        pytest.raises(MigrationError, match="Unable to write to command") as info,
    ):
        qmp.wait_migration(5, poll_interval=0.01)
    assert info.value.status.status == final
    assert info.value.exit_code == 1


def test_wait_migration_times_out(fake: Fake) -> None:
    server = fake(_migration_script([{"status": "active"}]))
    with (
        QMPClient(server.address, timeout=2) as qmp,
        pytest.raises(Timeout, match="last status: active"),
    ):
        qmp.wait_migration(0.3, poll_interval=0.05)


def test_wait_migration_wakes_on_migration_event(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        first = peer.recv()
        peer.reply(first, {"status": "active"})
        peer.send_json(
            {
                "event": "MIGRATION",
                "data": {"status": "completed"},
                "timestamp": {"seconds": 1, "microseconds": 0},
            }
        )
        peer.reply(peer.recv(), {"status": "completed"})
        peer.wait_closed()

    with QMPClient(fake(script).address, timeout=2) as qmp:
        start = time.monotonic()
        assert qmp.wait_migration(5, poll_interval=2.0).succeeded
        assert time.monotonic() - start < 1.0  # the event ended the 2 s pause


def test_capability_and_parameter_helpers_send_the_right_commands(fake: Fake) -> None:
    def handler(peer: Peer, command: dict[str, Any]) -> bool:
        if command["execute"] == "query-migrate-parameters":
            peer.reply(command, {"max-bandwidth": 134217728})
            return True
        if command["execute"] == "query-migrate-capabilities":
            peer.reply(command, [{"capability": "events", "state": True}])
            return True
        return False

    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve(handler)

    server = fake(script)
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.set_capabilities({"events": True, "xbzrle": False})
        assert qmp.get_capabilities() == {"events": True}
        qmp.set_parameters({"max-bandwidth": 10**10})
        assert qmp.get_parameters() == {"max-bandwidth": 134217728}
        qmp.migrate_incoming("tcp:0:4444")
        qmp.cancel_migration()
    sent = [(m["execute"], m.get("arguments")) for m in server.received_messages()[1:]]
    assert sent == [
        (
            "migrate-set-capabilities",
            {
                "capabilities": [
                    {"capability": "events", "state": True},
                    {"capability": "xbzrle", "state": False},
                ]
            },
        ),
        ("query-migrate-capabilities", None),
        ("migrate-set-parameters", {"max-bandwidth": 10**10}),
        ("query-migrate-parameters", None),
        ("migrate-incoming", {"uri": "tcp:0:4444"}),
        ("migrate_cancel", None),
    ]


def _recording_server(fake: Fake) -> FakeQMPServer:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve(lambda peer, command: False)

    return fake(script)


def test_set_capabilities_refuses_a_non_bool_state_and_sends_nothing(fake: Fake) -> None:
    server = _recording_server(fake)
    with QMPClient(server.address, timeout=2) as qmp, pytest.raises(InputError, match="events"):
        qmp.set_capabilities({"events": 1})  # type: ignore[dict-item]
    assert [m["execute"] for m in server.received_messages()] == ["qmp_capabilities"]


def test_set_parameters_sends_the_command_monitor_builds(fake: Fake) -> None:
    server = _recording_server(fake)
    with QMPClient(server.address, timeout=2) as qmp:
        qmp.set_parameters({"max_bandwidth": 10**9})
    sent = server.received_messages()[1]
    expected = monitor.migrate_set_parameters({"max_bandwidth": 10**9})
    assert {k: v for k, v in sent.items() if k != "id"} == expected
    assert sent["arguments"] == {"max-bandwidth": 10**9}


def test_wait_migration_keeps_waiting_through_an_unknown_status(fake: Fake) -> None:
    statuses: list[dict[str, Any]] = [{"status": "some-future-state"}, {"status": "completed"}]
    server = fake(_migration_script(statuses))
    seen: list[str] = []
    with QMPClient(server.address, timeout=2) as qmp:
        final = qmp.wait_migration(5, on_progress=lambda s: seen.append(s.status),
                                   poll_interval=0.01)
    assert final.succeeded and seen == ["some-future-state", "completed"]
