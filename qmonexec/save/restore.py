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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..vocabulary import STATUS_NONE, VM_INMIGRATE, VM_POSTMIGRATE, VM_RUNNING
from .errors import RestoreError, VMStateError
from .image import ImageHeader
from .plan import RestorePlan, plan_restore
from .progress import Meter, Progress
from .qemu import connect, query_status
from .target import alias, is_plain, private_dir
from .waits import enable_events, restore_events, wait_loaded

if TYPE_CHECKING:
    from ..qmp import QMPClient
    from ..shell import Policy
    from ..spec import Compression


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore` did: the image read, how long it took, the VM's status after."""

    source: str | bytes
    offset: int
    compression: str
    seconds: float
    vm_status: str
    header: ImageHeader | None
    uri: str
    #: QEMU read through a temporary symlink because the name is not plain ASCII.
    via_symlink: bool = False


def restore(
    qmp: QMPClient | str | os.PathLike[str],
    source: str | bytes | os.PathLike[str],
    *,
    offset: int | None = None,
    decompress: str | Compression | None = None,
    then: Literal["pause", "resume"] = "resume",
    timeout: float | None = None,
    policy: Policy | None = None,
    progress: Callable[[Progress], None] | None = None,
    qmp_timeout: float = 30.0,
) -> RestoreResult:
    """Restore the image ``source`` into the QEMU behind ``qmp`` (started with ``-incoming defer``).

    Without ``offset`` the qmonexec header chooses the offset and the
    decompressor and must be complete; the file size is checked against the
    recorded stream length before QEMU is asked.  With ``offset`` (an image
    with a header of your own, or none: 0) ``decompress`` names the format.
    ``then``: ``resume`` (``cont``) or ``pause`` (``stop`` if the guest runs).
    Raises :class:`~qmonexec.save.image.ImageError` subclasses for unusable
    images, :class:`VMStateError` when QEMU is not waiting for an incoming
    migration, :class:`RestoreError` when the load fails.
    """
    from ..build import restore_uri

    plan = plan_restore(source, offset=offset, decompress=decompress, then=then,
                        timeout=timeout, policy=policy, progress=progress)
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
        with connect(qmp, qmp_timeout) as client:
            vm_status = _load(client, plan, uri, os.fsencode(spec.source))
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    comp = plan.spec.compression
    return RestoreResult(plan.source, plan.spec.offset, comp.name if comp else "raw",
                         time.monotonic() - plan.started, vm_status, plan.header, uri,
                         spec.source != plan.source)


def _check_destination(client: QMPClient) -> None:
    """Raise :class:`VMStateError` unless QEMU waits for an incoming migration."""
    status = query_status(client)
    if status == VM_POSTMIGRATE:
        raise VMStateError("this VM was already migrated away (status postmigrate); restore "
                           "into a new QEMU started with -incoming defer", status=status)
    if status != VM_INMIGRATE:
        raise VMStateError(
            f"QEMU was not started with -incoming defer (status {status}); start the "
            "destination with the same machine options as the source plus -incoming defer",
            status=status)
    if client.query_migrate().status != STATUS_NONE:
        raise VMStateError("an incoming migration was already started in this QEMU; start "
                           "a new one with -incoming defer", status=status)


def _load(client: QMPClient, plan: RestorePlan, uri: str, read_as: bytes) -> str:
    """Have QEMU load the image through ``uri``; leave the VM as asked; return its status."""
    from ..qmp import ConnectionClosed, MigrationError, QMPError

    _check_destination(client)
    events_before = enable_events(client)
    client.migrate_incoming(uri, policy=plan.policy)
    meter = Meter("restore", plan.progress)
    try:
        wait_loaded(client, read_as if plan.progress else None, plan.size, plan.deadline, meter)
    except ConnectionClosed:
        raise RestoreError(
            "qemu", "the destination QEMU exited while loading the image (it does so when "
            "the stream is truncated or corrupt, or the machine options differ from the "
            "source's); see QEMU's stderr") from None
    except (MigrationError, QMPError) as exc:
        raise RestoreError("qemu", str(exc)) from None
    restore_events(client, events_before)
    vm_status = query_status(client)
    if plan.then == "resume":
        client.execute("cont")
    elif vm_status == VM_RUNNING:
        client.execute("stop")
    return query_status(client)
