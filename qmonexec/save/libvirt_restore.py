"""Restore a libvirt save image (:mod:`.libvirt_image`) through a file descriptor.

The stream starts right after libvirt's 92-byte header and its domain XML,
at an offset no ``dd bs=B skip=N`` of the validated restore shape can reach
in reasonable blocks.  So qmonexec opens the image itself, seeks to the
stream and hands QEMU a descriptor over the QMP socket (``getfd``), then asks
for ``migrate-incoming fd:NAME``: the file itself for a raw image, or the
read end of a pipe from the decompressor qmonexec runs (``NAME -dc`` with
the positioned file as its stdin; the program is found on ``PATH`` like the
save's).  No shell is involved.  This is the fd transport of
:mod:`.fdstream`, so the decompressor runs in its own session, its stderr and
exit status are checked, and QEMU's copy of the descriptor is closed afterwards.
"""

from __future__ import annotations

__all__ = ["restore_libvirt"]

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..spec import absolute_path
from ..vocabulary import AFTER_RESTORE, spoken
from .fdstream import open_incoming
from .libvirt_image import check_restorable, read_libvirt
from .loading import RestoreResult, load
from .plan import RestoreThen, _deadline
from .programs import find_program
from .progress import Progress
from .qemu import connect
from .transport import Choice, probe

if TYPE_CHECKING:
    from ..qmp import QMPClient
    from ..shell import Policy
    from .fdstream import Stream


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
    decompress = None
    if image.format != "raw":
        decompress = (find_program(image.format, "decompressor"), "-dc")
    uris: list[str] = []

    def prepare(stream: Stream | None) -> str:
        assert stream is not None
        uris.append(stream.uri)
        return stream.uri

    with connect(qmp, qmp_timeout) as client:
        offer = probe(client)
        status = load(client, plan, dict(image.source), prepare, None, offer=offer,
                      opener=lambda: open_incoming(client, Choice("fd"), path,
                                                   image.stream_offset, decompress,
                                                   mapped_ram=False))
    return RestoreResult(path, image.stream_offset, image.format, time.monotonic() - started,
                         status, None, uris[0], transport="fd")
