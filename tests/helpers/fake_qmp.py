"""A scriptable fake QMP server: a real socket and a thread running a script.

The script is a function ``script(peer)`` run in the server thread once a
client connects.  :class:`Peer` sends raw bytes or JSON and reads the client's
messages; every byte the client wrote is kept in ``peer.received`` (and parsed
messages in ``peer.messages``), so a test can prove nothing was sent.

The thread is a daemon and :meth:`FakeQMPServer.close` shuts the sockets down
and joins it, so a script blocked in ``recv`` always ends.  An exception in the
script (other than the client going away) is re-raised by ``close()``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

GREETING: dict[str, Any] = {
    "QMP": {
        "version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"},
        "capabilities": ["oob"],
    }
}


class PeerGone(Exception):
    """The client closed the connection (or the server is shutting down)."""


class Peer:
    """The server side of one connection."""

    def __init__(self, conn: socket.socket, stop: threading.Event) -> None:
        self.conn = conn
        self.stop = stop
        self.received = bytearray()
        self.messages: list[dict[str, Any]] = []
        self._buffer = bytearray()

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        try:
            self.conn.sendall(data)
        except OSError as exc:
            raise PeerGone(str(exc)) from None

    def send_json(self, obj: Any) -> None:
        """Write one message as QEMU does (JSON + CRLF)."""
        self.send(json.dumps(obj).encode() + b"\r\n")

    def greet(self, greeting: dict[str, Any] | None = None) -> None:
        """Send the greeting."""
        self.send_json(GREETING if greeting is None else greeting)

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        """Read the client's next newline-terminated message."""
        while b"\n" not in self._buffer:
            if self.stop.is_set():
                raise PeerGone("server stopping")
            try:
                self.conn.settimeout(timeout)
                data = self.conn.recv(65536)
            except OSError as exc:
                raise PeerGone(str(exc)) from None
            if not data:
                raise PeerGone("client closed")
            self.received += data
            self._buffer += data
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        message: dict[str, Any] = json.loads(line)
        self.messages.append(message)
        return message

    def reply(self, command: dict[str, Any], value: Any = None) -> None:
        """Answer ``command`` with ``{"return": value}`` (``{}`` when None)."""
        self.send_json({"return": {} if value is None else value, "id": command["id"]})

    def error(self, command: dict[str, Any], error_class: str, desc: str) -> None:
        """Answer ``command`` with an error reply."""
        self.send_json({"error": {"class": error_class, "desc": desc}, "id": command["id"]})

    def negotiate(self) -> dict[str, Any]:
        """Greet, then answer the client's ``qmp_capabilities``."""
        self.greet()
        command = self.recv()
        assert command["execute"] == "qmp_capabilities", command
        self.reply(command)
        return command

    def serve(self, handler: Callable[[Peer, dict[str, Any]], bool | None] | None = None) -> None:
        """Answer commands until the client leaves: ``handler(peer, cmd)`` or ``{}`` replies.

        The handler returns True when it answered the command itself.
        """
        while True:
            command = self.recv(timeout=30.0)
            if handler is None or not handler(self, command):
                self.reply(command)

    def wait_closed(self, timeout: float = 30.0) -> None:
        """Block (answering nothing) until the client closes or the server stops."""
        with contextlib.suppress(PeerGone):
            while True:
                self.recv(timeout=timeout)


Script = Callable[[Peer], None]


class FakeQMPServer:
    """Listen on a Unix socket (default) or TCP, run ``script`` for the first connection.

    Use as a context manager; ``address`` is what to give :class:`QMPClient`.
    """

    def __init__(self, script: Script, *, tcp: bool = False) -> None:
        self.script = script
        self.stop = threading.Event()
        self.peer: Peer | None = None
        self.error: BaseException | None = None
        self._conn: socket.socket | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="qmx-fake-", dir="/tmp"))
        if tcp:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.bind(("127.0.0.1", 0))
            host, port = self._listener.getsockname()
            self.address: str = f"{host}:{port}"
        else:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = self._dir / "qmp.sock"
            self._listener.bind(str(path))
            self.address = str(path)
        self._listener.listen(1)
        self._listener.settimeout(30.0)
        self.connected = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-qmp", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            self.peer = Peer(conn, self.stop)
            self.connected.set()
            with contextlib.suppress(PeerGone):
                self.script(self.peer)
        except BaseException as exc:  # reported by close()
            self.error = exc
        finally:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.close()
            self.finished.set()

    def received_messages(self) -> list[dict[str, Any]]:
        """Messages the script has read so far."""
        return list(self.peer.messages) if self.peer else []

    def close(self) -> None:
        """Stop the script, close every socket, join the thread, re-raise a script error."""
        self.stop.set()
        for sock in (self._conn, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
        self._thread.join(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)
        assert not self._thread.is_alive(), "fake QMP server thread did not end"
        if self.error is not None:
            raise self.error

    def __enter__(self) -> FakeQMPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def socketpair_server(script: Script) -> tuple[socket.socket, threading.Thread, threading.Event]:
    """Run ``script`` on one end of a socketpair; return (client end, thread, stop flag)."""
    client_end, server_end = socket.socketpair()
    stop = threading.Event()

    def run() -> None:
        with contextlib.suppress(PeerGone), server_end:
            script(Peer(server_end, stop))

    thread = threading.Thread(target=run, name="fake-qmp-pair", daemon=True)
    thread.start()
    return client_end, thread, stop


__all__ = ["GREETING", "FakeQMPServer", "Peer", "PeerGone", "Script", "socketpair_server"]


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeQMPServer]]:
    """Fixture: ``fake(script, tcp=False) -> FakeQMPServer``; every server is closed at teardown."""
    servers: list[FakeQMPServer] = []

    def start(script: Script, *, tcp: bool = False) -> FakeQMPServer:
        server = FakeQMPServer(script, tcp=tcp)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
