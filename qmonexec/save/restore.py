"""Restore a VM from an image written by :func:`qmonexec.save.save`: ``qmonexec restore``.

The image is checked before QEMU is asked (:func:`~.plan.plan_restore`: a
complete header, or the caller's offset, and a file as long as the recorded
stream); QEMU, started with ``-incoming defer``, then reads the stream through
``exec:dd if=IMAGE bs=B skip=N [| COMP -dc]`` (docs/design.md).
"""

from __future__ import annotations

__all__ = ["RestoreResult", "restore"]

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .fdstream import Stream, open_incoming, set_layout
from .loading import RestoreResult, load
from .plan import RestorePlan, RestoreThen, plan_restore
from .progress import Progress
from .qemu import connect
from .target import alias, is_plain, private_dir
from .transport import Choice, Offer, decide, probe

if TYPE_CHECKING:
    from ..qmp import QMPClient
    from ..shell import Policy
    from ..spec import Compression


def restore(
    qmp: QMPClient | str | os.PathLike[str],
    source: str | bytes | os.PathLike[str],
    *,
    offset: int | None = None,
    decompress: str | Compression | None = None,
    then: RestoreThen = "as-saved",
    timeout: float | None = None,
    policy: Policy | None = None,
    progress: Callable[[Progress], None] | None = None,
    qmp_timeout: float = 30.0,
    transport: str = "auto",
    parallel: int | None = None,
    force: bool = False,
    direct_io: bool = False,
) -> RestoreResult:
    """Restore the image ``source`` into the QEMU behind ``qmp`` (started with ``-incoming defer``).

    Without ``offset`` the qmonexec header chooses the offset and the
    decompressor and must be complete; the file size is checked against the
    recorded stream length before QEMU is asked.  With ``offset`` (an image
    with a header of your own, or none: 0) ``decompress`` names the format.
    A libvirt save image (``virsh save``) is recognised by its own header.
    ``then``: ``as-saved`` (the run state the header records: a paused source
    stays paused, a running one resumes; ``resume`` when the image does not
    record it), ``resume`` (``cont``) or ``pause`` (``stop`` if the guest runs).
    The destination's machine type and RAM size must match the recorded
    source's (:class:`~.destination.MismatchError`) unless ``force``.  When
    the load fails, the error quotes the last lines of QEMU's stderr (when
    that is a regular file); QEMU 9.1+ is asked to keep running then
    (``exit-on-error`` off) and the error also carries its ``error-desc``.
    ``transport``: ``auto`` (default), ``exec``, ``fd`` or ``file``; an image
    with the mapped-ram layout needs ``file`` on QEMU 9.1+ (``parallel``: its
    channels, default the header's; ``direct_io``: they read with O_DIRECT,
    QEMU 9.1+).  ``KeyboardInterrupt`` during the load
    stops the destination QEMU (a half-loaded guest cannot run) and is re-raised.
    Raises :class:`~qmonexec.save.image.ImageError` subclasses for unusable
    images, :class:`VMStateError` when QEMU is not waiting for an incoming
    migration, :class:`RestoreError` when the load fails.
    """
    from .libvirt_image import is_libvirt

    if offset is None and decompress is None and is_libvirt(os.fspath(source)):
        from .libvirt_restore import restore_libvirt

        return restore_libvirt(qmp, os.fspath(source), then=then, timeout=timeout,
                               progress=progress, qmp_timeout=qmp_timeout, force=force)
    plan = plan_restore(source, offset=offset, decompress=decompress, then=then,
                        timeout=timeout, policy=policy, progress=progress,
                        transport=transport, parallel=parallel, force=force,
                        direct_io=direct_io)
    header = plan.header
    # Without a header only --parallel can say the stream has the mapped-ram layout.
    mapped = header.mapped_ram if header is not None else plan.parallel is not None
    with connect(qmp, qmp_timeout) as client:
        offer = probe(client)  # also says whether a failed load can leave QEMU running
        choice = decide(client, plan.transport, compressed=plan.spec.compression is not None,
                        parallel=plan.parallel or (
                            header.layout.get("channels") if mapped and header is not None
                            and header.layout is not None else None),
                        mapped_ram=mapped, direct_io=plan.direct_io, offer=offer)
        if choice.transport != "exec":
            return _restore_fd(client, plan, choice, mapped, offer)
        return _restore_exec(client, plan, choice.note, offer)


def _restore_fd(client: QMPClient, plan: RestorePlan, choice: Choice,
                mapped: bool, offer: Offer) -> RestoreResult:
    """The fd and file transports: QEMU reads the open image, or a decompressor's pipe."""
    comp = plan.spec.compression

    def opener() -> Stream:
        return open_incoming(client, choice, plan.source, plan.spec.offset,
                             comp.decompress if comp is not None else None, mapped)

    def prepare(stream: Stream | None) -> str:
        assert stream is not None
        if stream.capabilities:
            set_layout(client, stream.capabilities, Choice(
                "file", parallel=stream.channels, direct_io=choice.direct_io))
        return stream.uri

    vm_status = load(client, plan, plan.header.source if plan.header else None, prepare,
                     os.fsencode(plan.source) if plan.progress else None, offer=offer,
                     opener=opener)
    return RestoreResult(plan.source, plan.spec.offset, comp.name if comp else "raw",
                         time.monotonic() - plan.started, vm_status, plan.header,
                         f"{choice.transport}:", transport=choice.transport, note=choice.note)


def _restore_exec(client: QMPClient, plan: RestorePlan, note: str | None,
                  offer: Offer) -> RestoreResult:
    """The exec transport: ``exec:dd if=S bs=B skip=N [| COMP -dc]``."""
    from ..build import restore_uri

    work_dir: str | bytes | None = None
    try:
        spec = plan.spec
        if not is_plain(os.path.basename(plan.source)):
            try:
                work_dir = private_dir(os.path.dirname(plan.source))
            except OSError:
                # Restoring needs no write access next to the image: use the temp dir.
                work_dir = tempfile.mkdtemp(prefix="qmonexec-")
            spec = replace(spec, source=alias(work_dir, plan.source))
        uri = restore_uri(spec, plan.policy)
        vm_status = load(client, plan, plan.header.source if plan.header else None,
                         lambda _stream: uri,
                         os.fsencode(spec.source) if plan.progress else None, offer=offer,
                         exec_source=os.fsencode(spec.source))
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    comp = plan.spec.compression
    return RestoreResult(plan.source, plan.spec.offset, comp.name if comp else "raw",
                         time.monotonic() - plan.started, vm_status, plan.header, uri,
                         spec.source != plan.source, note=note)


