"""QMPClient against a scripted fake server: every hostile or broken peer ends in a typed result.

Each test bounds the client's timeout and checks the call returned well within
it: nothing may hang, and no exception type outside qmonexec's hierarchy may
escape.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from qmonexec.errors import QmonexecError
from qmonexec.qmp import (
    CommandError,
    ConnectError,
    ConnectionClosed,
    ProtocolError,
    QMPClient,
    Timeout,
)
from tests.helpers.fake_qmp import FakeQMPServer, Peer, socketpair_server

Fake = Callable[..., FakeQMPServer]


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail if the block takes longer than ``seconds``."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s, limit {seconds} s"


def client_for(server: FakeQMPServer, **kwargs: Any) -> QMPClient:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("connect_timeout", 2.0)
    return QMPClient(server.address, **kwargs)


# ----------------------------------------------------------------- happy paths


def test_greeting_negotiation_and_execute(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        command = peer.recv()
        assert command["execute"] == "query-status"
        peer.reply(command, {"status": "prelaunch", "running": False})
        peer.wait_closed()

    server = fake(script)
    with client_for(server) as qmp:
        assert qmp.version == (7, 2, 22)
        assert qmp.capabilities == ("oob",)
        assert qmp.execute("query-status") == {"status": "prelaunch", "running": False}
    messages = server.received_messages()
    assert [m["execute"] for m in messages] == ["qmp_capabilities", "query-status"]
    assert len({m["id"] for m in messages}) == 2


def test_tcp_host_port_address(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve()

    server = fake(script, tcp=True)
    with client_for(server) as qmp:
        assert qmp.kind == "tcp"
        assert qmp.execute("query-status") == {}


def test_existing_socket_object() -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve()

    sock, thread, _ = socketpair_server(script)
    with QMPClient(sock, timeout=2) as qmp:
        assert qmp.execute("query-name") == {}
    assert sock.fileno() == -1  # the client owns and closes it
    thread.join(5)
    assert not thread.is_alive()


def test_error_reply_is_command_error(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.error(peer.recv(), "CommandNotFound", "The command nope has not been found")
        peer.serve()

    with client_for(fake(script)) as qmp:
        with pytest.raises(CommandError) as info:
            qmp.execute("nope")
        assert info.value.error_class == "CommandNotFound"
        assert info.value.desc == "The command nope has not been found"
        assert info.value.exit_code == 1
        assert qmp.execute("still-usable") == {}


def test_context_manager_closes_on_error(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve()

    qmp = client_for(fake(script))
    with pytest.raises(RuntimeError), qmp:
        raise RuntimeError("boom")
    assert not qmp.connected
    with pytest.raises(ConnectionClosed):
        qmp.execute("query-status")


# ----------------------------------------------------------------- framing


def test_reply_split_into_one_byte_writes(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        command = peer.recv()
        data = (
            b'{"return": {"status": "running", "text": "\xc3\xa9t\xc3\xa9"}, "id": "'
            + command["id"].encode()
            + b'"}\r\n'
        )
        for i in range(len(data)):
            peer.send(data[i : i + 1])
            time.sleep(0.001)
        peer.wait_closed()

    with client_for(fake(script)) as qmp, within(2.0):
        assert qmp.execute("query-status") == {"status": "running", "text": "été"}


def test_late_reply_and_current_reply_in_one_write(fake: Fake) -> None:
    """A reply arriving after its command timed out is dropped; the next one is matched."""

    def script(peer: Peer) -> None:
        peer.negotiate()
        slow = peer.recv()
        fast = peer.recv()
        payload = (
            f'{{"return": "late", "id": "{slow["id"]}"}}\r\n'
            f'{{"return": "fast", "id": "{fast["id"]}"}}\r\n'
        )
        peer.send(payload.encode())
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        with pytest.raises(Timeout), within(1.5):
            qmp.execute("slow", timeout=0.3)
        assert qmp.execute("fast") == "fast"


def test_events_and_reply_in_one_write_are_queued(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        command = peer.recv()
        stamp = {"seconds": 1700000000, "microseconds": 250000}
        payload = (
            f'{{"event": "STOP", "timestamp": {{"seconds": 1700000000, "microseconds": 0}}}}\r\n'
            f'{{"event": "MIGRATION", "data": {{"status": "setup"}}, "timestamp": '
            f'{{"seconds": {stamp["seconds"]}, "microseconds": {stamp["microseconds"]}}}}}\r\n'
            f'{{"return": 42, "id": "{command["id"]}"}}\r\n'
        )
        peer.send(payload.encode())
        peer.send_json({"event": "RESUME", "data": {}, "timestamp": stamp})
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        assert qmp.execute("query-x") == 42
        event = qmp.wait_event("RESUME", timeout=1)
        assert event.name == "RESUME"
        migration = qmp.wait_event(
            "MIGRATION", timeout=1, predicate=lambda e: e.data.get("status") == "setup"
        )
        assert migration.timestamp == 1700000000.25
        assert [e.name for e in qmp.events()] == ["STOP"]
        assert qmp.events() == []
        with pytest.raises(Timeout), within(1.0):
            qmp.wait_event("SHUTDOWN", timeout=0.2)


def test_reply_with_unknown_id_is_dropped(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        command = peer.recv()
        peer.send_json({"return": "wrong", "id": "someone-else"})
        peer.send_json({"return": "no id"})  # not an error, no id: dropped too
        peer.reply(command, "right")
        unanswered = peer.recv()
        peer.send_json({"return": "wrong", "id": unanswered["id"] + "x"})
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        assert qmp.execute("first") == "right"
        with pytest.raises(Timeout), within(1.5):
            qmp.execute("second", timeout=0.4)


def test_10_mib_reply(fake: Fake) -> None:
    big = "x" * (10 * 1024 * 1024)

    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.reply(peer.recv(), {"blob": big})
        peer.wait_closed()

    with client_for(fake(script), timeout=10) as qmp, within(10):
        assert qmp.execute("big")["blob"] == big


def test_reply_larger_than_max_message_size_is_protocol_error(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.reply(peer.recv(), "y" * (2 * 1024 * 1024))
        peer.wait_closed()

    with client_for(fake(script), max_message_size=1024 * 1024) as qmp:
        with pytest.raises(ProtocolError, match="limit"), within(2):
            qmp.execute("big")
        assert not qmp.connected  # the stream cannot be resynchronised


# ----------------------------------------------------------------- broken peers


def test_garbage_bytes_are_protocol_error_and_connection_survives(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.recv()
        peer.send(b"\x00\xff\xfe\x80 garbage \x1b[31m\r\n")
        peer.reply(peer.recv(), "ok")
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        with pytest.raises(ProtocolError, match="not UTF-8"), within(1.5):
            qmp.execute("first")
        assert qmp.execute("second") == "ok"


def test_garbage_greeting(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.send(b"SSH-2.0-OpenSSH_9.2\r\n")
        peer.wait_closed()

    qmp = client_for(fake(script))
    with pytest.raises(ProtocolError), within(1.5):
        qmp.connect()
    assert not qmp.connected


def test_json_that_is_not_a_greeting(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.send_json({"return": {}})
        peer.wait_closed()

    with pytest.raises(ProtocolError, match="greeting"), client_for(fake(script)):
        pass


def test_idless_errors_are_drained_and_reported_once(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.recv()
        for _ in range(3):
            peer.send_json({"error": {"class": "GenericError", "desc": "JSON parse error, x"}})
        peer.reply(peer.recv(), "after")
        peer.wait_closed()

    with client_for(fake(script), timeout=5) as qmp:
        with pytest.raises(ProtocolError) as info, within(1.0):
            qmp.execute("bad")
        assert "JSON parse error" in str(info.value)
        assert "3 id-less errors" in str(info.value)
        assert info.value.message is not None
        assert qmp.execute("good") == "after"


def test_idless_error_followed_by_own_reply_returns_it(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        command = peer.recv()
        peer.send_json({"error": {"class": "GenericError", "desc": "stray parse error"}})
        peer.reply(command, "mine")
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        assert qmp.execute("cmd") == "mine"


def test_peer_closes_mid_message(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.recv()
        peer.send(b'{"return": {"status": "runn')

    with client_for(fake(script)) as qmp:
        with pytest.raises(ConnectionClosed, match="middle of a message"), within(1.5):
            qmp.execute("query-status")
        assert not qmp.connected
        with pytest.raises(ConnectionClosed):
            qmp.execute("query-status")


def test_peer_closes_before_greeting(fake: Fake) -> None:
    with pytest.raises(ConnectionClosed), within(1.5), client_for(fake(lambda peer: None)):
        pass


def test_peer_that_never_answers(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.wait_closed()

    with client_for(fake(script)) as qmp:
        start = time.monotonic()
        with pytest.raises(Timeout) as info:
            qmp.execute("query-status", timeout=0.5)
        elapsed = time.monotonic() - start
        assert 0.45 < elapsed < 1.5
        assert info.value.timeout == 0.5
        assert info.value.exit_code == 3


def test_greeting_that_never_comes_times_out(fake: Fake) -> None:
    server = fake(lambda peer: peer.wait_closed())
    with pytest.raises(Timeout), within(1.5):
        QMPClient(server.address, connect_timeout=0.5).connect()


def test_negotiation_that_never_completes_times_out(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.greet()
        peer.wait_closed()

    with pytest.raises(Timeout), within(1.5):
        QMPClient(fake(script).address, connect_timeout=0.5).connect()


def test_missing_socket_is_connect_error(tmp_path: Any) -> None:
    with pytest.raises(ConnectError) as info, within(1.0):
        QMPClient(str(tmp_path / "absent.sock")).connect()
    assert info.value.exit_code == 3


def test_refused_tcp_is_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError), within(2.0):
        QMPClient(f"127.0.0.1:{port}", connect_timeout=1).connect()


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan")])
def test_every_call_needs_a_finite_timeout(timeout: float) -> None:
    with pytest.raises(QmonexecError):
        QMPClient("/nonexistent", timeout=timeout)


def test_flood_of_events_cannot_stall_a_call(fake: Fake) -> None:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.recv()
        line = b'{"event": "SPAM", "timestamp": {"seconds": 1, "microseconds": 0}}\r\n'
        end = time.monotonic() + 3
        while time.monotonic() < end and not peer.stop.is_set():
            peer.send(line * 100)

    with client_for(fake(script), max_events=50) as qmp:
        with pytest.raises((Timeout, ConnectionClosed)), within(1.5):
            qmp.execute("query-status", timeout=0.5)
        assert len(qmp.events(clear=False)) <= 50


def test_address_parsing() -> None:
    from qmonexec.qmp import parse_address

    assert parse_address("/run/qmp.sock") == ("unix", "/run/qmp.sock")
    assert parse_address("qmp.sock") == ("unix", "qmp.sock")
    assert parse_address("./host:123") == ("unix", "./host:123")
    assert parse_address("localhost:4444") == ("tcp", ("localhost", 4444))
    assert parse_address("[::1]:4444") == ("tcp", ("::1", 4444))
    assert parse_address(("10.0.0.1", 1)) == ("tcp", ("10.0.0.1", 1))
