"""Handing open files to QEMU over the QMP socket: ``getfd`` and ``add-fd`` (SCM_RIGHTS).

A file QEMU receives this way is never named in a QMP message, so its path
may hold any bytes (QMP strings cannot carry bytes that are not UTF-8), and
QEMU needs no permission to open it.  Only a Unix QMP socket can carry
descriptors: :func:`can_pass_fds` says whether a client's can.

``getfd`` + ``fd:NAME`` works on every QEMU qmonexec supports; ``add-fd`` +
``file:/dev/fdset/ID,offset=N`` needs QEMU 9.1+ (docs/reference.md, section 8).
"""

from __future__ import annotations

__all__ = ["add_fd", "add_to_fdset", "can_pass_fds", "close_fd", "get_fd", "remove_fd"]

import contextlib
from typing import TYPE_CHECKING, Any

from .errors import ProtocolError, QMPError

if TYPE_CHECKING:
    from .client import QMPClient


def can_pass_fds(client: QMPClient) -> bool:
    """Whether ``client`` talks over a Unix socket, the only kind that carries descriptors."""
    return client.can_pass_fds


def get_fd(client: QMPClient, fd: int, name: str) -> None:
    """Give QEMU a duplicate of ``fd`` under ``name`` (QMP ``getfd``), for ``fd:NAME`` URIs."""
    client.execute("getfd", {"fdname": name}, pass_fds=(fd,))


def close_fd(client: QMPClient, name: str) -> None:
    """Drop QEMU's descriptor ``name`` if it still holds it (``closefd``); never raises."""
    with contextlib.suppress(QMPError, OSError):
        client.execute("closefd", {"fdname": name})


def add_fd(client: QMPClient, fd: int, opaque: str) -> int:
    """Put a duplicate of ``fd`` in a new fdset (QMP ``add-fd``); return the fdset's id.

    QEMU then opens ``/dev/fdset/ID`` by picking the set's descriptor whose
    access mode (and ``O_DIRECT``) match what it asks for.
    """
    answer: Any = client.execute("add-fd", {"opaque": opaque}, pass_fds=(fd,))
    fdset = answer.get("fdset-id") if isinstance(answer, dict) else None
    if not isinstance(fdset, int) or isinstance(fdset, bool):
        raise ProtocolError(f"add-fd answered {answer!r}, without an fdset-id")
    return fdset


def add_to_fdset(client: QMPClient, fd: int, fdset: int, opaque: str) -> None:
    """Add one more descriptor to the existing fdset ``fdset``."""
    client.execute("add-fd", {"fdset-id": fdset, "opaque": opaque}, pass_fds=(fd,))


def remove_fd(client: QMPClient, fdset: int) -> None:
    """Remove the fdset ``fdset`` if QEMU still has it (``remove-fd``); never raises."""
    with contextlib.suppress(QMPError, OSError):
        client.execute("remove-fd", {"fdset-id": fdset})
