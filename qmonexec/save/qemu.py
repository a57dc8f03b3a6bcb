"""Commands to QEMU around a save or restore, besides the migration and the waits.

Connecting (:func:`connect`), the VM's status (:func:`query_status`),
cancelling a save (:func:`cancel`), and leaving the VM as asked afterwards
(:func:`apply_then`, :func:`after_completed`).
"""

from __future__ import annotations

__all__ = ["after_completed", "apply_then", "cancel", "connect", "query_status", "socket_path"]

import contextlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..qmp.migration import watch_migration
from ..vocabulary import VM_RUNNING
from .stages import Stages
from .waits import wait_until

if TYPE_CHECKING:
    from ..qmp import QMPClient

#: After a cancel, how long to wait for the pipeline to go away before cleaning up.
_SETTLE_WAIT = 5.0


@contextlib.contextmanager
def connect(qmp: QMPClient | str | os.PathLike[str], timeout: float) -> Iterator[QMPClient]:
    """``qmp`` itself (connected if it is not yet), or a client for the socket path ``qmp``."""
    from ..qmp import QMPClient

    if isinstance(qmp, QMPClient):
        if not qmp.connected:
            qmp.connect()
        yield qmp
        return
    with QMPClient(os.fspath(qmp), timeout=timeout) as client:
        yield client


def socket_path(qmp: QMPClient | str | os.PathLike[str]) -> str | None:
    """The path of the QMP unix socket (``None`` for a TCP client), so it is never a target."""
    from ..qmp import QMPClient

    if isinstance(qmp, QMPClient):
        if qmp.kind != "unix":
            return None
        return os.fspath(qmp.address)  # type: ignore[arg-type]
    return os.fspath(qmp)


def query_status(qmp: QMPClient) -> str:
    """The VM's run state from ``query-status`` (``running``, ``postmigrate``, ...)."""
    answer = qmp.execute("query-status")
    status = answer.get("status") if isinstance(answer, dict) else None
    return status if isinstance(status, str) else "unknown"


def cancel(client: QMPClient, stages: Stages | None) -> str:
    """Cancel the migration, give the pipeline a moment to exit; return the final status.

    Never raises; the status is ``"unknown"`` when QEMU cannot be asked.
    """
    from ..qmp import QMPError

    status = "unknown"
    with contextlib.suppress(QMPError, OSError):
        client.cancel_migration()
        status = watch_migration(client, time.monotonic() + _SETTLE_WAIT).status
    if stages is not None:
        wait_until(lambda: not stages.alive(), _SETTLE_WAIT)
    return status


def after_completed(client: QMPClient, status_before: str) -> str:
    """The save failed after QEMU said ``completed``: put a running VM back to work."""
    from ..qmp import QMPError

    if status_before == VM_RUNNING:
        try:
            client.execute("cont")
        except QMPError as exc:
            return f"the VM was running before the save but could not be resumed: {exc}"
        return "the VM was running before the save and has been resumed"
    return ("the VM stays paused in postmigrate; QEMU will not migrate it again until it is "
            "resumed with 'cont'")


def apply_then(client: QMPClient, then: str) -> str:
    """After a save: ``resume`` (``cont``), ``quit`` or leave paused; return the VM's status."""
    from ..qmp import ConnectionClosed

    if then == "resume":
        client.execute("cont")
    elif then == "quit":
        with contextlib.suppress(ConnectionClosed):
            client.execute("quit")
        return "quit"
    return query_status(client)
