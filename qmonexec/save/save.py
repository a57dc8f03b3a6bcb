"""Save a VM into a file behind a header: the workflow behind ``qmonexec save``.

:func:`save` never reports success for data that is not on disk.  QEMU ignores
the exit status of an ``exec:`` command and says ``completed`` before the
pipeline has finished writing (docs/reference.md, section 1), so the save
URI is the *stage-status* form (docs/design.md): each
pipeline stage ends by creating ``NAME.ok`` or ``NAME.failed`` in a private
status directory, with its stderr in ``NAME.err``.  A save succeeds only when
QEMU reports ``completed``, every stage has written ``NAME.ok``, dd's own
byte count matches the file and the file has been fsync'ed; only then is the
header flipped from partial to complete (:mod:`qmonexec.save.image`).  See
docs/save-restore.md.

Stage names used in :class:`~qmonexec.save.errors.SaveError`: ``target`` and
``header`` (our checks and the header write), ``qemu`` (QEMU's side of the
migration), ``compress`` and ``write`` (the pipeline), ``fsync`` and
``finalize`` (our last steps).
"""

from __future__ import annotations

__all__ = ["SaveResult", "save"]

import contextlib
import os
import shutil
import stat
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..vocabulary import (
    ACTIVE_STATUSES,
    COMPRESS,
    STAGES,
    STATUS_COMPLETED,
    VM_INMIGRATE,
    VM_POSTMIGRATE,
    WRITE,
)
from .errors import SaveError, VMStateError
from .image import (
    STREAM_ALIGNMENT,
    ImageHeader,
    encode_header,
    finalize_header,
    new_header,
    raw_header,
    write_head,
)
from .plan import DEFAULT_BANDWIDTH, SavePlan, Then, is_named, plan_save
from .progress import Meter, Progress
from .qemu import after_completed, apply_then, cancel, connect, query_status, socket_path
from .stages import Stages, dd_bytes
from .target import alias, parent_dir, private_dir, show
from .waits import Pipeline, enable_events, restore_events, wait_completed, wait_stages

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..qmp import Greeting, QMPClient
    from ..shell import Policy
    from ..spec import Compression, SaveSpec


@dataclass(frozen=True)
class SaveResult:
    """What :func:`save` wrote.

    ``header`` is the final header (``None`` for a raw header), ``offset``
    where the stream starts, ``stream_length`` its size, ``verified`` whether
    every stage was proven to exit 0 (``False`` with the libvirt profile).
    """

    target: str | bytes
    offset: int
    stream_length: int
    seconds: float
    verified: bool
    header: ImageHeader | None
    uri: str
    vm_status: str
    #: QEMU wrote through a temporary symlink because the name is not plain ASCII.
    via_symlink: bool = False

    @property
    def file_size(self) -> int:
        """Bytes in the file: header plus stream."""
        return self.offset + self.stream_length


def save(
    qmp: QMPClient | str | os.PathLike[str],
    target: str | bytes | os.PathLike[str],
    *,
    compress: str | Compression | None = None,
    metadata: dict[str, Any] | None = None,
    bandwidth: int | None = DEFAULT_BANDWIDTH,
    then: Then = "pause",
    timeout: float | None = None,
    profile_name: str = "default",
    header_bytes: bytes | None = None,
    block_size: int = 4096,
    policy: Policy | None = None,
    progress: Callable[[Progress], None] | None = None,
    qmp_timeout: float = 30.0,
) -> SaveResult:
    """Save the VM behind ``qmp`` into ``target`` and prove every byte reached the disk.

    ``qmp``: a connected :class:`~qmonexec.qmp.QMPClient` or a QMP socket path.
    ``compress``: ``None``/``"raw"``, a format name (``gzip``, ``zstd``, ...)
    or a custom :class:`~qmonexec.spec.Compression` (then pass a ``policy``
    allowing its program, or rely on :func:`qmonexec.build.policy_for`).
    ``metadata``: a JSON object stored in the header.  ``bandwidth``: the
    ``max-bandwidth`` to use during the save (the previous value is put back;
    ``None`` leaves it alone).  ``then``: the VM afterwards: ``pause`` (left in
    ``postmigrate``), ``resume`` (``cont``) or ``quit``.  ``timeout``: seconds
    for the whole save (``None``: no limit).  ``profile_name``: ``default``
    (stage status, proven) or ``libvirt`` (libvirt's exact string: success
    cannot be proven, ``verified`` is false).  ``header_bytes``: raw mode, the
    caller's own header instead of ours (padded to ``block_size``).
    ``progress``: called with a :class:`Progress` about five times a second.

    Raises :class:`SaveError` (naming the stage) when anything fails, after
    cancelling the migration; the target then still starts with the partial
    header.  Raises :class:`InputError` for bad arguments before touching the
    file, :class:`VMStateError` when QEMU cannot be saved, and lets
    ``KeyboardInterrupt`` through after cancelling.
    """
    plan = plan_save(target, compress=compress, metadata=metadata, header_bytes=header_bytes,
                     bandwidth=bandwidth, then=then, timeout=timeout, profile_name=profile_name,
                     block_size=block_size, policy=policy, progress=progress,
                     qmp_socket=socket_path(qmp))
    with connect(qmp, qmp_timeout) as client:
        status_before = _check_source(client)
        header, head = _header(plan, client.greeting)
        return _Save(client, plan, header, head, status_before).run()


def _check_source(client: QMPClient) -> str:
    """The VM's status, if QEMU can save it now; else :class:`VMStateError`."""
    vm_status = query_status(client)
    if vm_status == VM_POSTMIGRATE:
        raise VMStateError(
            "the VM was already migrated or saved (status postmigrate) and QEMU refuses to "
            "migrate it again; to save its current state, resume it first ('qmonexec qmp "
            "--qmp SOCKET cont') or save with the image you already have",
            status=vm_status)
    if vm_status == VM_INMIGRATE:
        raise VMStateError(
            "this QEMU is waiting for an incoming migration (started with -incoming) and "
            "has no VM state to save", status=vm_status)
    current = client.query_migrate()
    if current.status in ACTIVE_STATUSES:
        raise VMStateError(f"a migration is already running (status {current.status}); "
                           "wait for it or cancel it first", status=current.status)
    return vm_status


def _header(plan: SavePlan, greeting: Greeting) -> tuple[ImageHeader | None, bytes]:
    """Our partial header and its bytes, or ``None`` and the caller's raw header padded."""
    block_size = plan.spec.block_size
    assert block_size is not None
    if plan.header_bytes is not None:
        return None, raw_header(plan.header_bytes, block_size)
    comp = plan.spec.compression
    header = new_header(
        block_size=block_size,
        compression=comp.name if comp is not None else "raw",
        decompress=None if comp is None or is_named(comp) else comp.decompress,
        qemu_version=".".join(map(str, greeting.version)),
        qemu_package=greeting.package or None,
        metadata=plan.metadata,
        profile=plan.spec.profile.name,
        alignment=STREAM_ALIGNMENT,
    )
    return header, encode_header(header)


class _Save:
    """One save in progress: what has been done so far, so a failure can be undone."""

    def __init__(self, client: QMPClient, plan: SavePlan, header: ImageHeader | None,
                 head: bytes, status_before: str) -> None:
        self.client = client
        self.plan = plan
        self.header = header
        self.head = head
        self.status_before = status_before
        self.work_dir: str | bytes | None = None
        self.fd: int | None = None
        self.stages: Stages | None = None
        self.previous_bandwidth: Any = None
        self.events_before: bool | None = None
        self.migrating = False
        self.completed = False

    def run(self) -> SaveResult:
        """Save; on failure cancel the migration and name the stage; always clean up."""
        from ..qmp import ConnectionClosed, QMPError

        target = self.plan.target
        try:
            return self._steps()
        except SaveError as exc:
            exc.header = self._header_left()
            if self.migrating and cancel(self.client, self.stages) == STATUS_COMPLETED:
                self.completed = True  # the stage failed just as QEMU finished
            if self.completed:
                exc.args = (f"{exc.args[0]}; "
                            f"{after_completed(self.client, self.status_before)}",)
            raise
        except ConnectionClosed as exc:
            raise SaveError("qemu", f"the connection to QEMU was lost during the save ({exc}); "
                            "QEMU probably exited, so the stream is incomplete",
                            header=self._header_left(), target=target) from None
        except QMPError as exc:
            if self.migrating:
                cancel(self.client, self.stages)
            raise SaveError("qemu", str(exc), header=self._header_left(),
                            target=target) from None
        except BaseException:
            if self.migrating:
                cancel(self.client, self.stages)
            raise
        finally:
            self._clean_up()

    def _header_left(self) -> ImageHeader | None:
        """The partial header at byte 0 of the target, ``None`` when nothing was written."""
        return self.header if self.fd is not None else None

    def _steps(self) -> SaveResult:
        plan, target = self.plan, self.plan.target
        offset = len(self.head)
        try:
            self.work_dir = private_dir(parent_dir(target))
        except OSError as exc:
            raise SaveError("target", f"cannot create the status directory in "
                            f"{show(parent_dir(target))}: {exc.strerror}",
                            target=target) from None
        status_dir = self.work_dir if plan.proven else None
        spec = replace(plan.spec, target=alias(self.work_dir, target), offset=offset,
                       status_dir=status_dir)
        uri = self._uri(spec)
        if status_dir is not None:
            self.stages = Stages(status_dir, STAGES if spec.compression is not None
                                 else (WRITE,))
        fd = self._write_head()
        pipeline = Pipeline(self.stages, {COMPRESS: spec.compress_argv or (), WRITE: ("dd",)},
                            target, fd, offset)
        self._start(uri)
        meter = Meter("migrate", plan.progress)
        final = wait_completed(self.client, pipeline, plan.deadline, meter)
        self.migrating, self.completed = False, True
        wait_stages(pipeline, plan.deadline, meter, final)
        stream_length = self._check_length(pipeline)
        _fsync(target, fd)
        seconds = time.monotonic() - plan.started
        final_header = self._finalize(stream_length, seconds)
        vm_status = apply_then(self.client, plan.then)
        return SaveResult(target, offset, stream_length, seconds, plan.proven, final_header,
                          uri, vm_status, spec.target != target)

    def _write_head(self) -> int:
        """Open the target, write the header and cut the file after it; return the fd."""
        target = self.plan.target
        try:
            self.fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            info = os.fstat(self.fd)
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"the target {show(target)} is not a regular file")
            write_head(self.fd, self.head)
            if info.st_size > 0:
                # Over an older file (perhaps a complete image), the partial header must be
                # on disk before the stream overwrites the old data, or a crash could leave
                # a complete-looking header in front of a mix of old and new bytes.  A new
                # or empty file cannot hold a complete header until finalize_header writes
                # one after the final fsync, so it needs none here: on a busy ext4 this
                # fsync waited 50-550 ms for a journal commit of other files' data.
                os.fsync(self.fd)
        except OSError as exc:
            raise SaveError("header", f"cannot write the header to {show(target)}: "
                            f"{exc.strerror or exc}", target=target) from None
        return self.fd

    def _uri(self, spec: SaveSpec) -> str:
        """Render and validate before the first byte is written, so a refused URI never
        clobbers an existing file."""
        from ..build import save_uri
        from ..quoting import check_qmp_text

        uri = save_uri(spec, self.plan.policy)
        check_qmp_text(uri, what="the save URI (the target name)")
        return uri

    def _start(self, uri: str) -> None:
        """Raise ``max-bandwidth``, switch on migration events, and start the migration."""
        if self.plan.bandwidth is not None:
            self.previous_bandwidth = self.client.get_parameters().get("max-bandwidth")
            self.client.set_parameters({"max-bandwidth": self.plan.bandwidth})
        self.events_before = enable_events(self.client)
        self.client.migrate(uri, policy=self.plan.policy)
        self.migrating = True

    def _check_length(self, pipeline: Pipeline) -> int:
        """The stream's length on disk, checked against dd's own count when it recorded one."""
        stream_length = pipeline.on_disk()
        if self.stages is not None and WRITE in self.stages.names:
            written = dd_bytes(self.stages.err(WRITE))
            if written is not None and written != stream_length:
                raise SaveError(WRITE, f"dd reports {written} bytes written but the file "
                                f"holds {stream_length} bytes after the header",
                                target=self.plan.target)
        return stream_length

    def _finalize(self, stream_length: int, seconds: float) -> ImageHeader | None:
        """Mark our header complete (a raw header is the caller's business)."""
        if self.header is None:
            return None
        assert self.fd is not None
        try:
            return finalize_header(self.fd, replace(
                self.header, stream_length=stream_length, verified=self.plan.proven,
                completed=new_header().created, seconds=round(seconds, 3)))
        except OSError as exc:
            raise SaveError("finalize", f"cannot mark {show(self.plan.target)} complete: "
                            f"{exc.strerror}", target=self.plan.target) from None

    def _clean_up(self) -> None:
        from ..qmp import QMPError

        if self.previous_bandwidth is not None:
            with contextlib.suppress(QMPError):
                self.client.set_parameters({"max-bandwidth": self.previous_bandwidth})
        restore_events(self.client, self.events_before)
        if self.fd is not None:
            os.close(self.fd)
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            if os.path.exists(self.work_dir):
                # A stage still creating its file raced the removal; try once more.
                time.sleep(0.2)
                shutil.rmtree(self.work_dir, ignore_errors=True)


def _fsync(target: str | bytes, fd: int) -> None:
    """fsync the target and (best effort) its directory."""
    try:
        os.fsync(fd)
        with contextlib.suppress(OSError):
            dir_fd = os.open(parent_dir(target), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        raise SaveError("fsync", f"fsync of {show(target)} failed: {exc.strerror}",
                        target=target) from None
