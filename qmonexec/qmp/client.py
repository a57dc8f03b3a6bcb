"""A synchronous QMP client that cannot hang and refuses unsafe ``exec:`` URIs.

Standard library only (``socket``, ``json``, ``selectors``).  Every call that
waits for the peer has a deadline and waits with :mod:`selectors`; no call ever
blocks in ``recv`` or ``send`` without a timeout.  The client is not
thread-safe: use one client per thread.

Example::

    from qmonexec.qmp import QMPClient, CommandError

    with QMPClient("/run/vm/qmp.sock", timeout=10) as qmp:
        print(qmp.greeting.version)              # (7, 2, 22)
        print(qmp.execute("query-status"))       # {'status': 'paused', ...}
        try:
            qmp.execute("no-such-command")
        except CommandError as exc:
            print(exc.error_class, exc.desc)
"""

from __future__ import annotations

__all__ = ["Address", "QMPClient", "parse_address"]

import collections
import contextlib
import logging
import math
import os
import re
import selectors
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Union

from ..errors import InputError
from ..limits import QMP_MAX_MESSAGE
from .errors import CommandError, ConnectError, ConnectionClosed, ProtocolError, Timeout
from .framing import FrameBuffer
from .guard import check_command
from .message import Event, Greeting, IdGenerator, decode, encode_command
from .migration import MigrationCommands

if TYPE_CHECKING:
    from ..shell import Policy

log = logging.getLogger(__name__)

#: What :class:`QMPClient` can connect to: a Unix socket path, ``"host:port"``,
#: a ``(host, port)`` pair, or an already-connected socket object.
Address = Union[str, "os.PathLike[str]", tuple[str, int], socket.socket]

_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]]+)):(?P<port>[0-9]{1,5})$"
)

#: How long to keep reading after an id-less error reply, to drain its siblings
#: (one malformed input can make QEMU send several id-less errors).
DRAIN_WINDOW = 0.1


def parse_address(address: Address) -> tuple[str, Any]:
    """Classify ``address`` as ``("unix", path)``, ``("tcp", (host, port))`` or ``("socket", s)``.

    A string with a ``/`` is always a Unix socket path; otherwise ``HOST:PORT``
    (``[V6]:PORT`` for IPv6) is TCP and anything else is a path.  Write
    ``./name:123`` for a Unix socket whose name looks like ``host:port``.
    """
    if isinstance(address, socket.socket):
        return "socket", address
    if isinstance(address, tuple):
        if len(address) != 2 or not isinstance(address[0], str) or not isinstance(address[1], int):
            raise InputError(f"a TCP address is (host, port), not {address!r}", value=address)
        return "tcp", address
    if isinstance(address, os.PathLike):
        return "unix", os.fspath(address)
    if not isinstance(address, str) or not address:
        raise InputError(f"unusable QMP address {address!r}", value=address)
    if "/" not in address:
        match = _HOST_PORT.match(address)
        if match:
            port = int(match["port"])
            if not 0 < port < 65536:
                raise InputError(f"port {port} in {address!r} is out of range", value=address)
            return "tcp", (match["v6"] or match["host"], port)
    return "unix", address


def _positive(value: float, what: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InputError(f"{what} must be a number of seconds, not {value!r}", value=value)
    if not (value > 0 and math.isfinite(value)):
        raise InputError(
            f"{what} must be a positive, finite number of seconds, not {value!r}: "
            "every QMP call has a deadline",
            value=value,
        )
    return float(value)


class QMPClient(MigrationCommands):
    """A synchronous QMP connection to one QEMU.

    ``QMPClient(address)`` only records its settings; :meth:`connect` (or
    ``with QMPClient(...) as qmp:``) connects, reads the greeting and, when
    ``negotiate`` is true, sends ``qmp_capabilities``.  Leaving the ``with``
    block always closes the socket, also after an error.

    Parameters:
        address: Unix socket path, ``"host:port"``, ``(host, port)`` or a
            connected socket (the client takes ownership and closes it).
        timeout: default per-call timeout in seconds for :meth:`execute` and
            friends; every call also accepts its own ``timeout=``.
        connect_timeout: limit for connecting plus reading the greeting and
            negotiating.
        negotiate: send ``qmp_capabilities`` after the greeting.
        policy: validator policy for ``exec:`` URIs (``None``: the default
            policy of :mod:`qmonexec.shell`).
        allow_unvalidated_exec: explicit opt-out of ``exec:`` validation for
            every call of this client (see :func:`check_command`).
        max_message_size: largest message accepted from the peer (QEMU's own
            limit, 64 MiB, by default).
        read_size: bytes requested per ``recv``.
        max_events: events kept in the queue; the oldest are dropped beyond it.
    """

    def __init__(
        self,
        address: Address,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        negotiate: bool = True,
        policy: Policy | None = None,
        allow_unvalidated_exec: bool = False,
        max_message_size: int = QMP_MAX_MESSAGE,
        read_size: int = 65536,
        max_events: int = 10000,
    ) -> None:
        self.address = address
        self.kind, self._target = parse_address(address)
        self.timeout = _positive(timeout, "timeout")
        self.connect_timeout = _positive(connect_timeout, "connect_timeout")
        self.negotiate = negotiate
        self.policy = policy
        self.allow_unvalidated_exec = allow_unvalidated_exec
        self.max_message_size = max_message_size
        self.read_size = read_size
        self._sock: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._frames = FrameBuffer(max_message_size)
        self._lines: collections.deque[bytes] = collections.deque()
        self._events: collections.deque[Event] = collections.deque(maxlen=max_events)
        self._ids = IdGenerator()
        self._greeting: Greeting | None = None
        self._closed_reason = "not connected"

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> QMPClient:
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self._sock is not None else self._closed_reason
        return f"<QMPClient {self.kind} {self._target!r} {state}>"

    @property
    def connected(self) -> bool:
        """True while the socket is open."""
        return self._sock is not None

    @property
    def greeting(self) -> Greeting:
        """The greeting QEMU sent on connect (raises :class:`ConnectionClosed` before that)."""
        if self._greeting is None:
            raise ConnectionClosed("no greeting yet: call connect() first")
        return self._greeting

    @property
    def version(self) -> tuple[int, int, int]:
        """QEMU's version as ``(major, minor, micro)``."""
        return self.greeting.version

    @property
    def capabilities(self) -> tuple[str, ...]:
        """Capabilities offered in the greeting (e.g. ``("oob",)``)."""
        return self.greeting.capabilities

    def connect(self) -> Greeting:
        """Connect, read the greeting, negotiate; return the greeting.

        Raises :class:`ConnectError`, :class:`Timeout` (``connect_timeout``),
        :class:`ProtocolError` (no QMP greeting) or :class:`CommandError`.  On
        any failure the socket is closed.
        """
        if self._sock is not None:
            raise ConnectError("already connected")
        deadline = time.monotonic() + self.connect_timeout
        sock = self._open_socket()
        self._sock = sock
        self._frames = FrameBuffer(self.max_message_size)
        self._lines.clear()
        try:
            sock.setblocking(False)
            selector = selectors.DefaultSelector()
            selector.register(sock, selectors.EVENT_READ)
            self._selector = selector
            first = self._read_message(deadline, "the QMP greeting", self.connect_timeout)
            self._greeting = Greeting.from_message(first)
            if self.negotiate:
                self._execute("qmp_capabilities", None, deadline, self.connect_timeout)
        except BaseException:
            self.close()
            raise
        return self._greeting

    def _open_socket(self) -> socket.socket:
        where = self._describe()
        if self.kind == "socket":
            sock: socket.socket = self._target
            if sock.fileno() < 0:
                raise ConnectError("the socket object given to QMPClient is closed")
            return sock
        if self.kind == "tcp":
            host, port = self._target
            try:
                return socket.create_connection((host, port), timeout=self.connect_timeout)
            except TimeoutError:
                raise Timeout(
                    f"connecting to {where} took longer than {self.connect_timeout:g} s",
                    timeout=self.connect_timeout,
                ) from None
            except OSError as exc:
                raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect(self._target)
        except TimeoutError:
            sock.close()
            raise Timeout(
                f"connecting to {where} took longer than {self.connect_timeout:g} s",
                timeout=self.connect_timeout,
            ) from None
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        return sock

    def _describe(self) -> str:
        if self.kind == "unix":
            return f"the QMP socket {self._target!r}"
        if self.kind == "tcp":
            return f"QMP at {self._target[0]}:{self._target[1]}"
        return "the QMP socket object"

    def close(self) -> None:
        """Close the connection; safe to call more than once.  Queued events are kept."""
        self._shutdown("closed")

    def _shutdown(self, reason: str) -> None:
        sock, self._sock = self._sock, None
        selector, self._selector = self._selector, None
        self._closed_reason = reason
        self._lines.clear()
        if selector is not None:
            selector.close()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # ----------------------------------------------------------------- I/O core

    def _require(self) -> tuple[socket.socket, selectors.BaseSelector]:
        if self._sock is None or self._selector is None:
            raise ConnectionClosed(f"the QMP connection is {self._closed_reason}")
        return self._sock, self._selector

    def _deadline(self, timeout: float | None) -> tuple[float, float]:
        limit = self.timeout if timeout is None else _positive(timeout, "timeout")
        return limit, time.monotonic() + limit

    def _send(self, data: bytes, deadline: float, what: str) -> None:
        sock, _ = self._require()
        view = memoryview(data)
        with selectors.DefaultSelector() as writable:
            writable.register(sock, selectors.EVENT_WRITE)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    sent = len(data) - len(view)
                    # A half-written command would corrupt the stream: give up on it.
                    self._shutdown("closed after a timed-out send")
                    raise Timeout(
                        f"sending {what} timed out after {sent} of {len(data)} bytes; "
                        "the connection was closed"
                    )
                if not writable.select(remaining):
                    continue
                try:
                    count = sock.send(view)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    self._shutdown("closed by the peer")
                    raise ConnectionClosed(
                        f"the peer closed the connection while sending {what}: "
                        f"{exc.strerror or exc}"
                    ) from None
                view = view[count:]

    def _fill(self, deadline: float, what: str, *, poll: bool = False) -> bool:
        """Receive once if data arrives before ``deadline``; return False on timeout.

        With ``poll`` a passed deadline still reads data that is already waiting.
        """
        sock, selector = self._require()
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not poll:
            return False
        if not selector.select(max(remaining, 0.0)):
            return False
        try:
            data = sock.recv(self.read_size)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            self._shutdown("closed by the peer")
            raise ConnectionClosed(
                f"the connection failed while waiting for {what}: {exc.strerror or exc}"
            ) from None
        if not data:
            partial = self._frames.pending
            self._shutdown("closed by the peer")
            if partial:
                raise ConnectionClosed(
                    f"the peer closed the connection in the middle of a message "
                    f"({partial} bytes received) while waiting for {what}"
                )
            raise ConnectionClosed(f"the peer closed the connection while waiting for {what}")
        try:
            self._lines.extend(self._frames.feed(data))
        except ProtocolError:
            self._shutdown("closed after an oversized message")
            raise
        return True

    def _read_message(
        self, deadline: float, what: str, limit: float | None = None
    ) -> dict[str, Any]:
        """Return the next decoded message, or raise :class:`Timeout` at ``deadline``."""
        while not self._lines:
            if not self._fill(deadline, what):
                raise Timeout(
                    f"no answer from QEMU within {limit if limit is not None else '?'} s "
                    f"while waiting for {what}",
                    timeout=limit,
                )
        return decode(self._lines.popleft())

    def _queue_event(self, message: dict[str, Any]) -> Event:
        event = Event.from_message(message)
        self._events.append(event)
        return event

    def _execute(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        deadline: float,
        limit: float | None = None,
    ) -> Any:
        command_id = self._ids()
        data = encode_command(name, arguments, command_id)
        if len(data) > self.max_message_size:
            raise InputError(
                f"the {name} command is {len(data)} bytes long; QEMU accepts at most "
                f"{self.max_message_size} bytes per message"
            )
        what = f"the reply to {name}"
        self._send(data, deadline, f"the {name} command")
        while True:
            message = self._read_message(deadline, what, limit)
            if "event" in message:
                self._queue_event(message)
                continue
            if "id" not in message:
                if "error" in message:
                    own = self._idless_error(name, message, command_id, deadline)
                    return self._result(name, own)
                log.debug("dropping QMP message without id: %.200r", message)
                continue
            if message["id"] != command_id:
                log.debug("dropping QMP reply with unknown id %.80r", message["id"])
                continue
            return self._result(name, message)

    def _result(self, name: str, message: dict[str, Any]) -> Any:
        if "return" in message:
            return message["return"]
        error = message.get("error")
        if isinstance(error, dict):
            return_class = error.get("class")
            desc = error.get("desc")
            raise CommandError(
                name,
                return_class if isinstance(return_class, str) else "UnknownError",
                desc if isinstance(desc, str) else repr(error),
            )
        raise ProtocolError(
            f"the reply to {name} has neither return nor error: {message!r:.200}", message=message
        )

    def _idless_error(
        self, name: str, first: dict[str, Any], command_id: str, deadline: float
    ) -> dict[str, Any]:
        """Report an id-less error (a server-side parse error) after draining its siblings.

        If the reply to our own command turns up while draining, the id-less
        errors were about something else: that reply is returned.
        """
        drained = 1
        quiet_until = min(deadline, time.monotonic() + DRAIN_WINDOW)
        own: dict[str, Any] | None = None
        while self._sock is not None:
            if not self._lines:
                try:
                    if not self._fill(quiet_until, "id-less errors"):
                        break
                except ConnectionClosed:
                    break
                continue
            try:
                message = decode(self._lines.popleft())
            except ProtocolError:
                continue
            if "event" in message:
                self._queue_event(message)
            elif "id" not in message and "error" in message:
                drained += 1
            elif message.get("id") == command_id:
                own = message
                break
            quiet_until = min(deadline, time.monotonic() + DRAIN_WINDOW)
        error = first.get("error")
        desc = error.get("desc") if isinstance(error, dict) else None
        if own is not None:
            log.warning("QMP id-less error before the reply to %s: %.200r", name, first)
            return own
        raise ProtocolError(
            f"QEMU could not parse the {name} command: {desc or first!r} "
            f"({drained} id-less error{'s' if drained != 1 else ''})",
            message=first,
        )

    # ----------------------------------------------------------------- public API

    def execute(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        allow_unvalidated_exec: bool | None = None,
    ) -> Any:
        """Run QMP command ``name`` and return its ``return`` value.

        Before anything is sent the command goes through :func:`check_command`
        (``policy`` and ``allow_unvalidated_exec`` default to the client's).
        Events arriving before the reply are queued for :meth:`events`.

        Raises :class:`CommandError` (QEMU's error reply), :class:`Timeout`
        (no reply within ``timeout`` seconds, default the client's),
        :class:`ProtocolError`, :class:`ConnectionClosed`,
        :class:`qmonexec.errors.InputError` or
        :class:`qmonexec.errors.UnsafeCommandError` (refused, nothing sent).
        """
        limit, deadline = self._deadline(timeout)
        check_command(
            name,
            arguments,
            policy=policy if policy is not None else self.policy,
            allow_unvalidated_exec=(
                self.allow_unvalidated_exec
                if allow_unvalidated_exec is None
                else allow_unvalidated_exec
            ),
        )
        self._require()
        return self._execute(name, arguments, deadline, limit)

    def events(self, *, timeout: float = 0.0, clear: bool = True) -> list[Event]:
        """Return the queued events, oldest first, after reading what arrives within ``timeout``.

        With the default ``timeout=0`` only data already received is read.
        ``clear=False`` leaves the events in the queue.
        """
        deadline = self._deadline(timeout)[1] if timeout else time.monotonic()
        self._pump(deadline)
        events = list(self._events)
        if clear:
            self._events.clear()
        return events

    def wait_event(
        self,
        name: str | None = None,
        timeout: float | None = None,
        predicate: Callable[[Event], bool] | None = None,
    ) -> Event:
        """Return (and unqueue) the first event named ``name`` that satisfies ``predicate``.

        Queued events are searched first; events that do not match stay queued.
        Raises :class:`Timeout` when none arrives within ``timeout`` seconds.
        """
        limit, deadline = self._deadline(timeout)

        def matches(event: Event) -> bool:
            return (name is None or event.name == name) and (predicate is None or predicate(event))

        for event in list(self._events):
            if matches(event):
                self._events.remove(event)
                return event
        self._require()
        what = f"the event {name}" if name else "an event"
        while True:
            message = self._read_message(deadline, what, limit)
            if "event" not in message:
                log.debug("dropping QMP message while waiting for an event: %.200r", message)
                continue
            event = Event.from_message(message)
            if matches(event):
                return event
            self._events.append(event)

    def _pump(self, deadline: float, stop: Callable[[Event], bool] | None = None) -> bool:
        """Read until ``deadline`` (at least what is already waiting), queueing events.

        Returns True as soon as an event satisfying ``stop`` was queued.
        """
        if self._sock is None:
            return False
        first = True
        while True:
            while self._lines:
                message = decode(self._lines.popleft())
                if "event" in message:
                    event = self._queue_event(message)
                    if stop is not None and stop(event):
                        return True
                else:
                    log.debug("dropping unsolicited QMP message: %.200r", message)
            if not self._fill(deadline, "events", poll=first):
                return False
            first = False

    def pump(self, timeout: float, *, stop: Callable[[Event], bool] | None = None) -> bool:
        """Read for up to ``timeout`` seconds, queueing events (read them with :meth:`events`).

        Returns early, with True, once an event satisfying ``stop`` is queued.
        """
        _, deadline = self._deadline(timeout)
        return self._pump(deadline, stop)
