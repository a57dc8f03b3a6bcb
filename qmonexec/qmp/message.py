"""QMP messages: encoding, decoding, classification, and unique command ids.

QMP messages are JSON objects (docs/interop/qmp-spec.rst):

* greeting ``{"QMP": {"version": {...}, "capabilities": [...]}}``
* command ``{"execute": NAME, "arguments": {...}, "id": ANY}``
* reply ``{"return": VALUE, "id": ID}`` or ``{"error": {"class": C, "desc": D}, "id": ID}``
* event ``{"event": NAME, "data": {...}, "timestamp": {"seconds": S, "microseconds": U}}``

Everything we send first passes :func:`qmonexec.monitor.check_arguments`
(QEMU's JSON parser takes only valid UTF-8 without noncharacters, turns
``\\u0000`` into other bytes, and limits nesting depth); :func:`encode` is the
wire form.  Size limits: :mod:`qmonexec.limits`.
"""

from __future__ import annotations

__all__ = [
    "Event",
    "Greeting",
    "IdGenerator",
    "decode",
    "encode",
    "encode_command",
]

import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .errors import ProtocolError


class IdGenerator:
    """Unique command ids: ``"<prefix>-<n>"`` with a per-process prefix and a counter.

    The prefix holds the process id and the object's identity, so two clients in
    one process (or two processes sharing a monitor) never reuse an id.
    """

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix if prefix is not None else f"qmx{os.getpid()}.{id(self) & 0xFFFFFF:x}"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        """Return the next id."""
        return f"{self.prefix}-{next(self._counter)}"


def encode(message: Mapping[str, Any]) -> bytes:
    """Serialize one message as compact UTF-8 JSON followed by a newline."""
    try:
        text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputError(f"the message cannot be written as JSON: {exc}") from None
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError as exc:
        raise InputError(
            f"the message holds a character that is not valid UTF-8 at offset {exc.start}"
        ) from None


def encode_command(
    name: str, arguments: Mapping[str, Any] | None, command_id: Any, *, oob: bool = False
) -> bytes:
    """Return the wire bytes of command ``name`` with ``arguments`` and ``id``."""
    message: dict[str, Any] = {"exec-oob" if oob else "execute": name}
    if arguments is not None:
        message["arguments"] = dict(arguments)
    message["id"] = command_id
    return encode(message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(line: bytes) -> dict[str, Any]:
    """Parse one received line into a JSON object; anything else raises :class:`ProtocolError`."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"received {len(line)} bytes that are not UTF-8 (bad byte at offset {exc.start}): "
            f"{_preview(line)}"
        ) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"received a line that is not JSON ({exc}): {_preview(line)}") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            f"received JSON that is not an object ({type(value).__name__}): {_preview(line)}"
        )
    return value


def _preview(line: bytes, limit: int = 80) -> str:
    shown = repr(line[:limit])
    return shown + (f" ... ({len(line)} bytes)" if len(line) > limit else "")


@dataclass(frozen=True)
class Event:
    """An asynchronous QMP event.

    ``timestamp`` is seconds since the epoch as a float (``None`` when QEMU gave
    none or ``-1``); ``raw`` is the message as received.
    """

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event:
        """Build an event from a decoded ``{"event": ...}`` message."""
        name = message.get("event")
        if not isinstance(name, str):
            raise ProtocolError(f"event without a string name: {message!r:.200}", message=message)
        data = message.get("data")
        stamp = message.get("timestamp")
        timestamp: float | None = None
        if isinstance(stamp, dict):
            seconds, micros = stamp.get("seconds"), stamp.get("microseconds")
            if isinstance(seconds, int) and isinstance(micros, int) and seconds >= 0:
                timestamp = seconds + micros / 1_000_000
        return cls(name, data if isinstance(data, dict) else {}, timestamp, message)


@dataclass(frozen=True)
class Greeting:
    """QEMU's greeting: ``version`` as (major, minor, micro), ``package``, ``capabilities``."""

    version: tuple[int, int, int]
    package: str
    capabilities: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Greeting:
        """Parse ``{"QMP": {...}}``; anything else raises :class:`ProtocolError`."""
        body = message.get("QMP")
        if not isinstance(body, dict):
            raise ProtocolError(
                f"the peer's first message is not a QMP greeting: {message!r:.200}",
                message=message,
            )
        version = body.get("version")
        qemu = version.get("qemu") if isinstance(version, dict) else None
        numbers: list[int] = []
        if isinstance(qemu, dict):
            for part in ("major", "minor", "micro"):
                number = qemu.get(part)
                numbers.append(number if isinstance(number, int) else 0)
        else:
            numbers = [0, 0, 0]
        package = version.get("package", "") if isinstance(version, dict) else ""
        caps = body.get("capabilities")
        capabilities = (
            tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ()
        )
        return cls(
            (numbers[0], numbers[1], numbers[2]),
            package if isinstance(package, str) else "",
            capabilities,
            message,
        )
