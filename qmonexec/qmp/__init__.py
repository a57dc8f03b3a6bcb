"""The QMP client: a synchronous, standard-library-only conversation with QEMU.

Modules follow ``qemu.qmp``'s split: :mod:`.errors` (the exception
hierarchy), :mod:`.message` (encoding, decoding, ids, argument checks),
:mod:`.protocol` (framing), :mod:`.client` (:class:`QMPClient`) and
:mod:`.migration` (:class:`MigrationStatus` and the migration helpers).
See ``docs/qmp.md``.
"""

from __future__ import annotations

from .client import Address, QMPClient, check_command, parse_address
from .errors import (
    CommandError,
    ConnectError,
    ConnectionClosed,
    MigrationError,
    ProtocolError,
    QMPError,
    Timeout,
)
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
