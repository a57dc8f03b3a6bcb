"""Migration over QMP: a typed ``query-migrate`` status and helper commands.

:class:`MigrationStatus` parses ``query-migrate``.  QEMU answers ``{}`` before
any migration (status ``"none"``), and newer QEMU versions add status values,
so an unknown status is kept as its string and never raises.

:class:`MigrationCommands` adds ``migrate``, ``migrate_incoming``,
``query_migrate``, ``wait_migration``, ``cancel_migration`` and the capability
and parameter helpers to :class:`qmonexec.qmp.QMPClient`.
"""

from __future__ import annotations

__all__ = [
    "FAILED_STATUSES",
    "FINAL_STATUSES",
    "MigrationCommands",
    "MigrationStatus",
]

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .errors import MigrationError, ProtocolError, Timeout
from .message import Event

if TYPE_CHECKING:
    from ..shell import Policy

#: Statuses after which a migration makes no further progress.
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

#: Final statuses that mean the migration did not succeed.
FAILED_STATUSES = frozenset({"failed", "cancelled"})


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
            status=status if isinstance(status, str) else "none",
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
        return self.status == "completed"

    @property
    def fraction(self) -> float | None:
        """Share of RAM transferred, 0.0-1.0, when QEMU reported totals."""
        if self.total and self.transferred is not None:
            return min(1.0, self.transferred / self.total)
        return None


class MigrationCommands:
    """Migration helpers; mixed into :class:`qmonexec.qmp.QMPClient`."""

    timeout: float

    def execute(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        allow_unvalidated_exec: bool | None = None,
    ) -> Any:  # pragma: no cover - provided by QMPClient
        """Run one QMP command (implemented by :class:`qmonexec.qmp.QMPClient`)."""
        raise NotImplementedError

    def pump(
        self, timeout: float, *, stop: Callable[[Event], bool] | None = None
    ) -> bool:  # pragma: no cover - provided by QMPClient
        """Read incoming events for up to ``timeout`` seconds (see ``QMPClient.pump``)."""
        raise NotImplementedError

    def migrate(
        self,
        uri: str,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        allow_unvalidated_exec: bool | None = None,
    ) -> None:
        """Start an outgoing migration to ``uri`` (QMP ``migrate``); returns once QEMU accepted it.

        An ``exec:`` URI must pass the validator (``policy``: a custom
        :class:`qmonexec.shell.Policy`; ``allow_unvalidated_exec=True``: the
        explicit opt-out); otherwise :class:`qmonexec.errors.UnsafeCommandError`
        is raised and nothing is sent.  Follow with :meth:`wait_migration`.
        """
        self.execute(
            "migrate",
            {"uri": uri},
            timeout=timeout,
            policy=policy,
            allow_unvalidated_exec=allow_unvalidated_exec,
        )

    def migrate_incoming(
        self,
        uri: str,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        allow_unvalidated_exec: bool | None = None,
    ) -> None:
        """Start an incoming migration from ``uri`` (QEMU must run with ``-incoming defer``)."""
        self.execute(
            "migrate-incoming",
            {"uri": uri},
            timeout=timeout,
            policy=policy,
            allow_unvalidated_exec=allow_unvalidated_exec,
        )

    def query_migrate(self, *, timeout: float | None = None) -> MigrationStatus:
        """Return the current migration status (``"none"`` before any migration)."""
        return MigrationStatus.from_qmp(self.execute("query-migrate", timeout=timeout))

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
        deadline = time.monotonic() + timeout
        last: MigrationStatus | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(
                    f"the migration did not finish within {timeout:g} s "
                    f"(last status: {last.status if last else 'unknown'})",
                    timeout=timeout,
                )
            status = self.query_migrate(timeout=remaining)
            last = status
            if on_progress is not None:
                on_progress(status)
            if status.status == "completed":
                return status
            if status.status in FAILED_STATUSES:
                detail = f": {status.error_desc}" if status.error_desc else ""
                raise MigrationError(f"the migration {status.status}{detail}", status=status)
            pause = min(poll_interval, deadline - time.monotonic())
            if pause > 0:
                self.pump(pause, stop=lambda event: event.name == "MIGRATION")

    def cancel_migration(self, *, timeout: float | None = None) -> None:
        """Ask QEMU to cancel the outgoing migration (``migrate_cancel``)."""
        self.execute("migrate_cancel", timeout=timeout)

    def set_capabilities(
        self, capabilities: Mapping[str, bool], *, timeout: float | None = None
    ) -> None:
        """Set migration capabilities, e.g. ``{"events": True}``."""
        self.execute(
            "migrate-set-capabilities",
            {
                "capabilities": [
                    {"capability": name, "state": bool(state)}
                    for name, state in capabilities.items()
                ]
            },
            timeout=timeout,
        )

    def get_capabilities(self, *, timeout: float | None = None) -> dict[str, bool]:
        """Return the migration capabilities as ``{name: state}``."""
        answer = self.execute("query-migrate-capabilities", timeout=timeout)
        result: dict[str, bool] = {}
        if isinstance(answer, list):
            for item in answer:
                if isinstance(item, dict) and isinstance(item.get("capability"), str):
                    result[item["capability"]] = bool(item.get("state"))
        return result

    def get_parameters(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Return the migration parameters (``query-migrate-parameters``)."""
        answer = self.execute("query-migrate-parameters", timeout=timeout)
        if not isinstance(answer, dict):
            raise ProtocolError(f"query-migrate-parameters returned {type(answer).__name__}")
        return answer

    def set_parameters(
        self, parameters: Mapping[str, Any], *, timeout: float | None = None
    ) -> None:
        """Set migration parameters, e.g. ``{"max-bandwidth": 10**10}``."""
        self.execute("migrate-set-parameters", dict(parameters), timeout=timeout)
