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
from .fdstream import Stream, StreamPipeline, open_outgoing, reset_layout, save_failure, set_layout
from .image import (
    STREAM_ALIGNMENT,
    ImageHeader,
    encode_header,
    finalize_header,
    new_header,
    raw_header,
    write_head,
)
from .lock import LockBusy, save_locks
from .plan import DEFAULT_BANDWIDTH, SavePlan, Then, is_named, plan_save
from .progress import Meter, Progress
from .qemu import after_completed, apply_then, cancel, connect, query_status, socket_path
from .replace import commit, discard, final_path, temp_beside
from .source import describe_vm
from .stages import Stages, dd_bytes
from .target import alias, parent_dir, private_dir, show
from .transport import Choice, decide
from .waits import Pipeline, enable_events, restore_events, wait_completed, wait_stages

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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
    #: How the stream travelled: ``exec``, ``fd`` or ``file`` (:mod:`.transport`).
    transport: str = "exec"
    #: Why ``auto`` chose what it chose, when the user should know (else ``None``).
    note: str | None = None

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
    transport: str = "auto",
    parallel: int | None = None,
    direct_io: bool = False,
    record_cmdline: bool = True,
    keep_partial: bool = False,
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
    ``transport``: ``auto`` (default), ``exec``, ``fd`` or ``file``
    (:mod:`qmonexec.save.transport`); ``parallel``: N multifd channels
    writing the mapped-ram layout (QEMU 9.1+, raw only); ``direct_io``: those
    channels with O_DIRECT.
    ``record_cmdline``: store the source QEMU's argv (secrets redacted) in the
    header.  ``keep_partial``: on failure keep the temporary file (its path in
    :attr:`SaveError.partial`) instead of removing it.

    The image is written to a temporary file beside ``target`` and renamed
    over it only once proven (:mod:`.replace`); a second save of the same VM
    or into the same target fails at once (stage ``lock``, :mod:`.lock`).
    Raises :class:`SaveError` (naming the stage) when anything fails, after
    cancelling the migration; an older file at ``target`` is then untouched.
    Raises :class:`InputError` for bad arguments before touching the file,
    :class:`VMStateError` when QEMU cannot be saved, and lets
    ``KeyboardInterrupt`` through after cancelling.
    """
    plan = plan_save(target, compress=compress, metadata=metadata, header_bytes=header_bytes,
                     bandwidth=bandwidth, then=then, timeout=timeout, profile_name=profile_name,
                     block_size=block_size, policy=policy, progress=progress,
                     qmp_socket=socket_path(qmp), transport=transport, parallel=parallel,
                     direct_io=direct_io, record_cmdline=record_cmdline,
                     keep_partial=keep_partial)
    with _locked(plan, socket_path(qmp)), connect(qmp, qmp_timeout) as client:
        status_before = _check_source(client)
        choice = decide(client, plan.transport, compressed=plan.spec.compression is not None,
                        profile_name=profile_name, parallel=plan.parallel,
                        direct_io=plan.direct_io)
        source = describe_vm(client, cmdline=plan.record_cmdline)
        header, head = _header(plan, client.greeting, choice, source)
        return _Save(client, plan, header, head, status_before, choice).run()


@contextlib.contextmanager
def _locked(plan: SavePlan, qmp_socket: str | None) -> Iterator[None]:
    """Hold the target's and the VM's save locks; a second save fails at once."""
    try:
        with save_locks(final_path(plan.target), qmp_socket):
            yield
    except LockBusy as busy:
        holder = busy.holder
        who = (f"qmonexec save (PID {holder.get('pid')}, saving into "
               f"{holder.get('target')!r})" if holder else "qmonexec save")
        what = "this VM" if busy.what == "qmp" else "this target"
        raise SaveError("lock", f"another {who} is saving {what}; wait for it to finish",
                        target=plan.target) from None
    except OSError as exc:
        raise SaveError("lock", f"cannot take the save lock: {exc}", target=plan.target) from None


def _check_source(client: QMPClient) -> str:
    """The VM's status, if QEMU can save it now; else :class:`VMStateError`."""
    vm_status = query_status(client)
    if vm_status == VM_POSTMIGRATE:
        raise VMStateError(
            "the VM was already migrated or saved (status postmigrate) and QEMU refuses to "
            "migrate it again; to save its current state, resume it first (the QMP "
            "command 'cont') or keep the image you already have",
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


def _header(plan: SavePlan, greeting: Greeting,
            choice: Choice, source: dict[str, Any]) -> tuple[ImageHeader | None, bytes]:
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
        transport=choice.transport,
        layout=(None if choice.parallel is None
                else {"mapped_ram": True, "channels": choice.parallel}),
        source=source,
    )
    return header, encode_header(header)


class _Save:
    """One save in progress: what has been done so far, so a failure can be undone."""

    def __init__(self, client: QMPClient, plan: SavePlan, header: ImageHeader | None,
                 head: bytes, status_before: str, choice: Choice) -> None:
        self.client = client
        self.choice = choice
        self.stream: Stream | None = None
        self.capabilities_before: dict[str, bool] = {}
        self.plan = plan
        self.header = header
        self.head = head
        self.status_before = status_before
        self.work_dir: str | bytes | None = None
        self.fd: int | None = None
        self.final = final_path(plan.target)
        self.temp: str | bytes | None = None
        self.temp_fd: int | None = None
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
            try:
                return self._steps()
            except ConnectionClosed as exc:
                raise SaveError("qemu", f"the connection to QEMU was lost during the save "
                                f"({exc}); QEMU probably exited, so the stream is incomplete",
                                target=target) from None
            except QMPError as exc:
                raise SaveError("qemu", str(exc), target=target) from None
        except SaveError as exc:
            exc.header = self._header_left()
            if self.migrating and cancel(self.client, self.stages) == STATUS_COMPLETED:
                self.completed = True  # the stage failed just as QEMU finished
            if self.completed and self.client.connected:
                exc.args = (f"{exc.args[0]}; "
                            f"{after_completed(self.client, self.status_before)}",)
            self._note_partial(exc)
            raise
        except BaseException:
            if self.migrating:
                cancel(self.client, self.stages)
            raise
        finally:
            self._clean_up()

    def _header_left(self) -> ImageHeader | None:
        """The partial header written to the temporary file, ``None`` when nothing was."""
        return self.header if self.fd is not None else None

    def _note_partial(self, exc: SaveError) -> None:
        """With ``keep_partial``, name the temporary file left behind, and its size."""
        if not self.plan.keep_partial or self.temp is None:
            return
        exc.partial = self.temp
        try:
            size = f"{os.stat(self.temp).st_size} bytes"
        except OSError as err:
            size = f"size unknown: {err.strerror}"
        exc.args = (f"{exc.args[0]}; the partial file is kept as {show(self.temp)} ({size}); "
                    f"{show(self.plan.target)} was not replaced",)

    def _steps(self) -> SaveResult:
        if self.choice.transport != "exec":
            return self._steps_fd()
        plan, target = self.plan, self.plan.target
        offset = len(self.head)
        try:
            self.work_dir = private_dir(parent_dir(target))
        except OSError as exc:
            raise SaveError("target", f"cannot create the status directory in "
                            f"{show(parent_dir(target))}: {exc.strerror}",
                            target=target) from None
        status_dir = self.work_dir if plan.proven else None
        self._create_temp()
        assert self.temp is not None
        written_as = alias(self.work_dir, self.temp)
        via_symlink = written_as != self.temp
        spec = replace(plan.spec, target=written_as, offset=offset, status_dir=status_dir)
        uri = self._uri(spec)
        if status_dir is not None:
            self.stages = Stages(status_dir, STAGES if spec.compression is not None
                                 else (WRITE,))
        fd = self._write_head()
        assert self.temp is not None
        pipeline = Pipeline(self.stages, {COMPRESS: spec.compress_argv or (), WRITE: ("dd",)},
                            self.temp, fd, offset)
        self._start(uri)
        meter = Meter("migrate", plan.progress)
        final = wait_completed(self.client, pipeline, plan.deadline, meter)
        self.migrating, self.completed = False, True
        wait_stages(pipeline, plan.deadline, meter, final)
        stream_length = self._check_length(pipeline)
        _fsync(self.temp, fd)
        seconds = time.monotonic() - plan.started
        final_header = self._finalize(stream_length, seconds)
        self._put_in_place()
        vm_status = apply_then(self.client, plan.then)
        return SaveResult(target, offset, stream_length, seconds, plan.proven, final_header,
                          uri, vm_status, via_symlink, note=self.choice.note)

    def _steps_fd(self) -> SaveResult:
        """The fd and file transports: QEMU writes an open file or a compressor's pipe."""
        plan, target, offset = self.plan, self.plan.target, len(self.head)
        self._create_temp()
        fd = self._write_head()
        assert self.temp is not None
        comp = plan.spec.compression
        self.stream = stream = open_outgoing(self.client, self.choice, fd, offset,
                                             comp.compress if comp is not None else None)
        if stream.capabilities:
            self.capabilities_before = set_layout(self.client, stream.capabilities,
                                                  self.choice)
        pipeline = StreamPipeline(None, {COMPRESS: stream.argv}, self.temp, fd, offset, stream)
        self._start(stream.uri)
        meter = Meter("migrate", plan.progress)
        try:
            final = wait_completed(self.client, pipeline, plan.deadline, meter)
        except SaveError as exc:
            raise save_failure(stream, exc, target) from None
        self.migrating, self.completed = False, True
        meter.report(STATUS_COMPLETED, final.total, final.total, sent=final.transferred,
                     on_disk=pipeline.on_disk(), phase="flush")
        failure = stream.finish(plan.deadline)
        if failure is not None:
            raise save_failure(stream, SaveError(COMPRESS, failure), target)
        stream_length = pipeline.on_disk()
        _fsync(self.temp, fd)
        seconds = time.monotonic() - plan.started
        final_header = self._finalize(stream_length, seconds)
        self._put_in_place()
        vm_status = apply_then(self.client, plan.then)
        return SaveResult(target, offset, stream_length, seconds, True, final_header,
                          stream.uri, vm_status, transport=self.choice.transport,
                          note=self.choice.note)

    def _put_in_place(self) -> None:
        """Rename the proven temporary file over the target (the old image stays until now)."""
        assert self.temp is not None
        try:
            commit(self.temp, self.final)
        except OSError as exc:
            raise SaveError("finalize", f"cannot rename the saved image over "
                            f"{show(self.final)}: {exc.strerror or exc}",
                            target=self.plan.target) from None
        self.temp = None

    def _create_temp(self) -> None:
        """Create the temporary file beside the target that QEMU writes into."""
        target = self.plan.target
        if os.path.exists(self.final) and not stat.S_ISREG(os.stat(self.final).st_mode):
            raise InputError(f"the target {show(target)} is not a regular file")
        try:
            self.temp_fd, self.temp = temp_beside(self.final)
        except OSError as exc:
            raise SaveError("target", f"cannot create a temporary file beside "
                            f"{show(target)}: {exc.strerror or exc}", target=target) from None

    def _write_head(self) -> int:
        """Write the header into the (new, empty) temporary file; return its fd.

        No fsync here: the temporary file cannot hold a complete header until
        finalize_header writes one after the final fsync, and the target is
        only replaced after that.
        """
        target = self.plan.target
        try:
            fd, self.fd, self.temp_fd = self.temp_fd, self.temp_fd, None
            assert fd is not None
            write_head(fd, self.head)
        except OSError as exc:
            raise SaveError("header", f"cannot write the header to {show(target)}: "
                            f"{exc.strerror or exc}", target=target) from None
        return fd

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
        if self.stream is not None:
            self.stream.close(self.client)
        if self.capabilities_before:
            reset_layout(self.client, self.capabilities_before)
        if self.fd is not None:
            os.close(self.fd)
        if self.temp_fd is not None:
            os.close(self.temp_fd)
        if self.temp is not None and not self.plan.keep_partial:
            discard(self.temp)
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
