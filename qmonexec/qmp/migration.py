"""Migration over QMP: a typed ``query-migrate`` status, helper commands, the wait loop.

:class:`MigrationStatus` parses ``query-migrate``.  QEMU answers ``{}`` before
any migration (status ``"none"``), and newer QEMU versions add status values,
so an unknown status is kept as its string and never raises.

:class:`MigrationCommands` adds ``migrate``, ``migrate_incoming``,
``query_migrate``, ``wait_migration``, ``cancel_migration`` and the capability
and parameter helpers to :class:`qmonexec.qmp.QMPClient`; each builds its
command with :mod:`qmonexec.monitor`.  :func:`watch_migration` is the one poll
loop every wait on a migration uses (this client's ``wait_migration``, the
save and the restore), with a hook that sees every status.
"""

from __future__ import annotations

__all__ = [
    "FAILED_STATUSES",
    "FINAL_STATUSES",
    "POLL",
    "MigrationCommands",
    "MigrationStatus",
    "pause",
    "remaining",
    "watch_migration",
]

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import monitor
from ..errors import InputError
from ..vocabulary import FAILED_STATUSES, FINAL_STATUSES, STATUS_COMPLETED, STATUS_NONE
from .errors import MigrationError, ProtocolError, Timeout
from .message import Event

if TYPE_CHECKING:
    from ..shell import Policy

#: Longest pause between two ``query-migrate`` polls.  With the ``events`` capability on, a
#: ``MIGRATION`` event ends the pause at once, so the end of a migration is seen within
#: milliseconds, not after half a poll interval on average (50 ms was 5% of a 1 GiB save).
POLL = 0.1


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(frozen=True)
class MigrationStatus:
    """One ``query-migrate`` answer.

    ``status`` is QEMU's string (``"none"`` when QEMU returned ``{}``; values
    this version does not know are kept as they are).  ``total``,
    ``transferred`` and ``remaining`` are RAM bytes and ``mbps`` the RAM
    throughput, each ``None`` when QEMU did not report it.  ``error_desc`` is
    QEMU's ``error-desc`` for a failed migration.
    """

    status: str
    total: int | None = None
    transferred: int | None = None
    remaining: int | None = None
    mbps: float | None = None
    error_desc: str | None = None
    total_time: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_qmp(cls, value: Any) -> MigrationStatus:
        """Parse the return value of ``query-migrate``; never fails on unknown content."""
        if not isinstance(value, dict):
            raise ProtocolError(f"query-migrate returned {type(value).__name__}, not an object")
        status = value.get("status")
        ram = value.get("ram")
        ram = ram if isinstance(ram, dict) else {}
        error = value.get("error-desc")
        return cls(
            status=status if isinstance(status, str) else STATUS_NONE,
            total=_int(ram.get("total")),
            transferred=_int(ram.get("transferred")),
            remaining=_int(ram.get("remaining")),
            mbps=_number(ram.get("mbps")),
            error_desc=error if isinstance(error, str) else None,
            total_time=_int(value.get("total-time")),
            raw=value,
        )

    @property
    def finished(self) -> bool:
        """True for ``completed``, ``failed`` and ``cancelled``."""
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True for ``completed``."""
        return self.status == STATUS_COMPLETED

    @property
    def fraction(self) -> float | None:
        """Share of RAM transferred, 0.0-1.0, when QEMU reported totals."""
        if self.total and self.transferred is not None:
            return min(1.0, self.transferred / self.total)
        return None


class MigrationCommands:
    """Migration helpers; mixed into :class:`qmonexec.qmp.QMPClient`."""

    timeout: float

    def execute(self, name: str, arguments: Mapping[str, Any] | None = None, *,
                timeout: float | None = None, policy: Policy | None = None,
                allow_unvalidated_exec: bool | None = None) -> Any:  # pragma: no cover
        """Run one QMP command (implemented by :class:`qmonexec.qmp.QMPClient`)."""
        raise NotImplementedError

    def pump(self, timeout: float, *,
             stop: Callable[[Event], bool] | None = None) -> bool:  # pragma: no cover
        """Read incoming events for up to ``timeout`` seconds (see ``QMPClient.pump``)."""
        raise NotImplementedError

    def _run(self, command: monitor.QMPCommand, timeout: float | None = None,
             policy: Policy | None = None, allow_unvalidated_exec: bool | None = None) -> Any:
        """Send a command built by :mod:`qmonexec.monitor`."""
        return self.execute(command["execute"], command.get("arguments"), timeout=timeout,
                            policy=policy, allow_unvalidated_exec=allow_unvalidated_exec)

    def migrate(self, uri: str, *, timeout: float | None = None, policy: Policy | None = None,
                allow_unvalidated_exec: bool | None = None) -> None:
        """Start an outgoing migration to ``uri`` (QMP ``migrate``); returns once QEMU accepted it.

        An ``exec:`` URI must pass the validator (``policy``: a custom
        :class:`qmonexec.shell.Policy`; ``allow_unvalidated_exec=True``: the
        explicit opt-out); otherwise :class:`qmonexec.errors.UnsafeCommandError`
        is raised and nothing is sent.  Follow with :meth:`wait_migration`.
        """
        self._run(monitor.migrate(uri), timeout, policy, allow_unvalidated_exec)

    def migrate_incoming(self, uri: str, *, timeout: float | None = None,
                         policy: Policy | None = None,
                         allow_unvalidated_exec: bool | None = None) -> None:
        """Start an incoming migration from ``uri`` (QEMU must run with ``-incoming defer``)."""
        self._run(monitor.migrate_incoming(uri), timeout, policy, allow_unvalidated_exec)

    def query_migrate(self, *, timeout: float | None = None) -> MigrationStatus:
        """Return the current migration status (``"none"`` before any migration)."""
        return MigrationStatus.from_qmp(self._run(monitor.query_migrate(), timeout))

    def wait_migration(
        self,
        timeout: float,
        *,
        on_progress: Callable[[MigrationStatus], None] | None = None,
        poll_interval: float = 0.2,
    ) -> MigrationStatus:
        """Poll ``query-migrate`` until the migration is ``completed``; return that status.

        ``on_progress`` is called with every status seen, the final one
        included.  Between polls incoming events are queued (a ``MIGRATION``
        event, sent when the ``events`` capability is on, ends the pause
        early).  Raises :class:`MigrationError` (with QEMU's ``error-desc``) on
        ``failed`` or ``cancelled`` and :class:`Timeout` when the migration is
        still running after ``timeout`` seconds.

        Note: for ``exec:`` saves, ``completed`` means QEMU finished writing
        into the pipe, not that the command finished writing its file.
        """
        if not (timeout > 0 and math.isfinite(timeout)):
            raise InputError(f"the migration timeout must be positive and finite, not {timeout!r}")
        status = watch_migration(self, time.monotonic() + timeout, on_status=on_progress,
                                 interval=poll_interval)
        if status.status in FAILED_STATUSES:
            detail = f": {status.error_desc}" if status.error_desc else ""
            raise MigrationError(f"the migration {status.status}{detail}", status=status)
        if not status.finished:
            raise Timeout(f"the migration did not finish within {timeout:g} s "
                          f"(last status: {status.status})", timeout=timeout)
        return status

    def cancel_migration(self, *, timeout: float | None = None) -> None:
        """Ask QEMU to cancel the outgoing migration (``migrate_cancel``)."""
        self._run(monitor.migrate_cancel(), timeout)

    def set_capabilities(
        self, capabilities: Mapping[str, bool], *, timeout: float | None = None
    ) -> None:
        """Set migration capabilities, e.g. ``{"events": True}`` (each state a ``bool``)."""
        self._run(monitor.migrate_set_capabilities(capabilities), timeout)

    def get_capabilities(self, *, timeout: float | None = None) -> dict[str, bool]:
        """Return the migration capabilities as ``{name: state}``."""
        answer = self._run(monitor.query_migrate_capabilities(), timeout)
        result: dict[str, bool] = {}
        if isinstance(answer, list):
            for item in answer:
                if isinstance(item, dict) and isinstance(item.get("capability"), str):
                    result[item["capability"]] = bool(item.get("state"))
        return result

    def get_parameters(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Return the migration parameters (``query-migrate-parameters``)."""
        answer = self._run(monitor.query_migrate_parameters(), timeout)
        if not isinstance(answer, dict):
            raise ProtocolError(f"query-migrate-parameters returned {type(answer).__name__}")
        return answer

    def set_parameters(
        self, parameters: Mapping[str, Any], *, timeout: float | None = None
    ) -> None:
        """Set migration parameters, e.g. ``{"max-bandwidth": 10**10}`` (``_`` means ``-``)."""
        self._run(monitor.migrate_set_parameters(parameters), timeout)


def remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a :func:`time.monotonic` value; ``None``: no limit)."""
    return None if deadline is None else deadline - time.monotonic()


def pause(client: MigrationCommands, deadline: float | None, interval: float = POLL) -> None:
    """Wait up to ``interval`` (or until ``deadline``), less if a ``MIGRATION`` event comes.

    Events read meanwhile stay queued in the client for its caller.
    """
    left = remaining(deadline)
    seconds = interval if left is None else min(interval, left)
    if seconds > 0:
        client.pump(seconds, stop=lambda event: event.name == "MIGRATION")


def watch_migration(
    client: MigrationCommands,
    deadline: float | None,
    *,
    on_status: Callable[[MigrationStatus], None] | None = None,
    answer_within: Callable[[float | None], float | None] | None = None,
    interval: float = POLL,
) -> MigrationStatus:
    """Poll ``query-migrate`` until a final status or ``deadline``; return the last status.

    The one migration wait loop.  ``on_status`` sees every status, the last
    one included, and may raise to end the wait (a failed pipeline stage, for
    example).  The result is final (``completed``, ``failed``, ``cancelled``)
    unless the deadline (a :func:`time.monotonic` value, ``None``: none)
    passed first.  ``answer_within(seconds_left)`` is how long one
    ``query-migrate`` may take (default: the time left, at least the client's
    timeout once the deadline has passed).  Unknown statuses count as still
    running.  Between polls the client waits for a ``MIGRATION`` event
    (:func:`pause`).
    """
    while True:
        left = remaining(deadline)
        if answer_within is not None:
            wait = answer_within(left)
        else:
            wait = None if left is None or left <= 0 else left
        status = client.query_migrate(timeout=wait)
        if on_status is not None:
            on_status(status)
        if status.finished or (left is not None and left <= 0):
            return status
        pause(client, deadline, interval)
