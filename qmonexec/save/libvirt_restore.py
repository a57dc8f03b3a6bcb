"""Restore a libvirt save image (:mod:`.libvirt_image`) through a file descriptor.

The stream starts right after libvirt's 92-byte header and its domain XML,
at an offset no ``dd bs=B skip=N`` of the validated restore shape can reach
in reasonable blocks.  So qmonexec opens the image itself, seeks to the
stream and hands QEMU a descriptor over the QMP socket (``getfd``), then asks
for ``migrate-incoming fd:NAME``: the file itself for a raw image, or the
read end of a pipe from the decompressor qmonexec runs (``NAME -dc`` with
the positioned file as its stdin; the program is found on ``PATH`` like the
save's).  No shell is involved.  The decompressor's exit status is checked.
"""

from __future__ import annotations

__all__ = ["restore_libvirt"]

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..spec import absolute_path
from ..vocabulary import AFTER_RESTORE, spoken
from .errors import RestoreError
from .libvirt_image import check_restorable, read_libvirt
from .loading import RestoreResult, load
from .plan import RestoreThen, _deadline
from .programs import find_program
from .progress import Progress
from .qemu import connect
from .transport import probe

if TYPE_CHECKING:
    from ..qmp import QMPClient
    from ..shell import Policy
    from .fdstream import Stream

#: The name QEMU knows the descriptor by, for ``fd:NAME``.
FD_NAME = "qmonexec-restore"


@dataclass(frozen=True)
class _Plan:
    then: Literal["pause", "resume"]
    force: bool
    progress: Callable[[Progress], None] | None
    size: int
    deadline: float | None
    policy: Policy | None = None  # fd: URIs only: no exec: command to validate


def restore_libvirt(qmp: QMPClient | str | os.PathLike[str], source: str | bytes, *,
                    then: RestoreThen, timeout: float | None,
                    progress: Callable[[Progress], None] | None, qmp_timeout: float,
                    force: bool) -> RestoreResult:
    """Load the libvirt save image ``source`` (see :func:`qmonexec.save.restore`)."""
    from ..errors import InputError

    started = time.monotonic()
    if then not in AFTER_RESTORE:
        raise InputError(f"then must be {spoken(AFTER_RESTORE)}, not {then!r}", value=then)
    path = absolute_path(source, "source")
    image = read_libvirt(path)
    check_restorable(image)
    paused = then == "pause" or (then == "as-saved" and not image.was_running)
    plan = _Plan("pause" if paused else "resume", force, progress,
                 image.file_size - image.stream_offset, _deadline(started, timeout))
    argv = None
    if image.format != "raw":
        argv = [find_program(image.format, "decompressor"), "-dc"]
    with open(path, "rb") as handle:
        handle.seek(image.stream_offset)
        with connect(qmp, qmp_timeout) as client:
            status = _run(client, plan, image.source, handle.fileno(), argv)
    return RestoreResult(path, image.stream_offset, image.format, time.monotonic() - started,
                         status, None, f"fd:{FD_NAME}")


def _run(client: QMPClient, plan: _Plan, source: dict[str, object], fd: int,
         argv: list[str] | None) -> str:
    """Hand QEMU ``fd`` (raw) or a pipe from ``argv`` reading ``fd``; load; check the pipe."""
    offer = probe(client)
    if argv is None:
        return load(client, plan, dict(source), lambda _stream: _hand(client, fd), None,
                    offer=offer)
    process = subprocess.Popen(argv, stdin=fd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    try:
        def prepare(_stream: Stream | None) -> str:
            assert process.stdout is not None
            uri = _hand(client, process.stdout.fileno())
            process.stdout.close()  # QEMU holds its own copy now
            return uri

        status = load(client, plan, dict(source), prepare, None, offer=offer)
    finally:
        if process.poll() is None:
            process.kill()
        error = process.stderr.read().decode("utf-8", "replace").strip()
        process.wait()
        process.stderr.close()
        if process.stdout is not None and not process.stdout.closed:
            process.stdout.close()
    if process.returncode != 0:
        raise RestoreError("decompress", f"{argv[0]} exited with status {process.returncode}"
                           + (f": {error}" if error else ""))
    return status


def _hand(client: QMPClient, fd: int) -> str:
    """Pass ``fd`` to QEMU; return the URI that loads from it."""
    client.send_fd(FD_NAME, fd)
    return f"fd:{FD_NAME}"
