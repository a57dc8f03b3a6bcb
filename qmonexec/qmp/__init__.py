"""The QMP client: a synchronous, standard-library-only conversation with QEMU.

Modules follow ``qemu.qmp``'s split: :mod:`.errors` (the exception
hierarchy), :mod:`.message` (encoding, decoding, ids), :mod:`.framing`
(bytes to messages), :mod:`.guard` (the ``exec:`` gate every command passes
before it is sent), :mod:`.client` (:class:`QMPClient`) and :mod:`.migration`
(:class:`MigrationStatus`, the migration helpers and the one wait loop).
Commands are built by :mod:`qmonexec.monitor`.
See ``docs/qmp.md``.
"""

from __future__ import annotations

from .client import Address, QMPClient, parse_address
from .errors import (
    CommandError,
    ConnectError,
    ConnectionClosed,
    MigrationError,
    ProtocolError,
    QMPError,
    Timeout,
)
from .guard import check_command
from .message import Event, Greeting
from .migration import MigrationStatus

__all__ = [
    "Address",
    "CommandError",
    "ConnectError",
    "ConnectionClosed",
    "Event",
    "Greeting",
    "MigrationError",
    "MigrationStatus",
    "ProtocolError",
    "QMPClient",
    "QMPError",
    "Timeout",
    "check_command",
    "parse_address",
]
