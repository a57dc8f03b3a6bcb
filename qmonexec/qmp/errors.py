"""Errors raised by the QMP client.

Hierarchy (every class derives from :class:`qmonexec.errors.QmonexecError`)::

    QMPError                 base of everything the client raises (exit status 3)
    +-- CommandError         QEMU answered with an error reply; ``error_class``, ``desc`` (1)
    +-- MigrationError       a migration ended ``failed`` or ``cancelled``; ``status`` (1)
    +-- ProtocolError        malformed, oversized or id-less message from the peer (3)
    +-- ConnectError         could not connect: no such socket, refused, unreachable (3)
    +-- ConnectionClosed     the peer went away (maybe mid-message), or the client is closed (3)
    +-- Timeout              no answer within the call's timeout (3)

Refusals before anything is sent are not ``QMPError``: a string QMP cannot carry
raises :class:`qmonexec.errors.InputError` (exit 2), an ``exec:`` URI the
validator rejects raises :class:`qmonexec.errors.UnsafeCommandError` (exit 1).
"""

from __future__ import annotations

__all__ = [
    "CommandError",
    "ConnectError",
    "ConnectionClosed",
    "MigrationError",
    "ProtocolError",
    "QMPError",
    "Timeout",
]

from typing import Any

from ..errors import QmonexecError


class QMPError(QmonexecError):
    """Base class of every error the QMP client raises about the conversation with QEMU."""

    exit_code = 3


class CommandError(QMPError):
    """QEMU executed (or refused) the command and answered ``{"error": {...}}``.

    ``error_class`` is QEMU's ``class`` (e.g. ``"GenericError"``, ``"CommandNotFound"``),
    ``desc`` its human-readable description, ``command`` the command name.
    """

    exit_code = 1

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(f"QEMU rejected {command!r}: {error_class}: {desc}")
        self.command = command
        self.error_class = error_class
        self.desc = desc


class MigrationError(QMPError):
    """A migration ended ``failed`` or ``cancelled``; ``status`` is the final ``MigrationStatus``.

    The message carries QEMU's ``error-desc`` when it gave one.
    """

    exit_code = 1

    def __init__(self, message: str, *, status: Any = None) -> None:
        super().__init__(message)
        self.status = status


class ProtocolError(QMPError):
    """The peer sent something that is not valid QMP.

    ``message`` holds the offending decoded message when there is one (for
    example the first of several id-less error replies), else ``None``.
    """

    def __init__(self, text: str, *, message: dict[str, Any] | None = None) -> None:
        super().__init__(text)
        self.message = message


class ConnectError(QMPError):
    """Connecting failed: no such socket, connection refused, unreachable host.

    A connect that takes too long raises :class:`Timeout`; a peer whose greeting
    is not QMP raises :class:`ProtocolError`.
    """


class ConnectionClosed(QMPError):
    """The connection is gone: the peer closed it (possibly mid-message) or it was closed here."""


class Timeout(QMPError):
    """The call did not complete within its timeout; ``timeout`` is the limit in seconds."""

    def __init__(self, text: str, *, timeout: float | None = None) -> None:
        super().__init__(text)
        self.timeout = timeout
