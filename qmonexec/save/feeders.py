"""Watching what feeds a load, so a stream that can no longer arrive ends the restore.

QEMU never ends an incoming migration whose stream ended before its first
byte: it stays in status ``none`` (7.2) or ``setup`` (10.0.2), and spins.
So while QEMU loads, :func:`~.waits.wait_loaded` shows each status to one of
these watches, which raises :class:`RestoreError` when the feeder is gone:

* :func:`decompressor_watch` (fd transport): the decompressor qmonexec runs
  failed (a death by SIGPIPE is QEMU's doing, and QEMU reports that itself);
* :func:`pipeline_watch` (exec transport): no process with ``if=IMAGE`` in its
  command line (the pipeline's dd, and the shell around it) has been left for
  :data:`GONE_GRACE` while QEMU has not received a byte.  Only where QEMU's
  processes are visible in this machine's /proc (a local Unix QMP socket).
"""

from __future__ import annotations

__all__ = ["Watch", "decompressor_watch", "pipeline_watch"]

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..vocabulary import STATUS_NONE
from .errors import RestoreError
from .procfs import pipeline_pids
from .source import peer_qemu_pid

if TYPE_CHECKING:
    from ..qmp import MigrationStatus, QMPClient
    from .destination import StderrTail
    from .fdstream import Stream

Watch = Callable[["MigrationStatus"], None]

#: Statuses of a load that has not received its first byte.
_NOT_STARTED = frozenset({STATUS_NONE, "setup"})
#: How long the exec pipeline must be gone, with QEMU still waiting, before the load
#: counts as starved (QEMU leaves ``setup`` as soon as the first bytes arrive).
GONE_GRACE = 1.0
_STUCK = ("; QEMU is still waiting for the stream (migration status {state}) and cannot load "
          "another stream: quit it and start a new one with -incoming defer")


def _state(status: MigrationStatus) -> str:
    return status.status or STATUS_NONE


def decompressor_watch(stream: Stream) -> Watch:
    """Raise once the decompressor feeding QEMU's descriptor has failed."""
    def watch(status: MigrationStatus) -> None:
        failure = stream.failed_on_its_own()
        if failure is not None:
            raise RestoreError("decompress", f"the decompressor failed: {failure}. QEMU did "
                               "not get the whole stream" + _STUCK.format(state=_state(status)))
    return watch


def pipeline_watch(client: QMPClient, source: bytes, stderr: StderrTail) -> Watch | None:
    """Raise once the exec pipeline reading ``source`` is gone before QEMU read a byte;
    ``None`` when QEMU's processes cannot be seen from here."""
    if peer_qemu_pid(client) is None:
        return None
    needle = b"if=" + source
    gone_since: list[float] = []

    def watch(status: MigrationStatus) -> None:
        if _state(status) not in _NOT_STARTED:
            return
        pids = pipeline_pids(needle)
        if pids is None or pids:
            gone_since.clear()
            return
        now = time.monotonic()
        if not gone_since:
            gone_since.append(now)
        if now - gone_since[0] < GONE_GRACE:
            return
        lines = stderr.lines()
        words = ("\nQEMU's last words on stderr:\n  " + "\n  ".join(lines)) if lines else ""
        raise RestoreError(
            "pipeline", "the restore pipeline exited before QEMU received a byte: the stream "
            "is empty, or dd or the decompressor failed (a damaged image?)"
            + _STUCK.format(state=_state(status)) + words)
    return watch
