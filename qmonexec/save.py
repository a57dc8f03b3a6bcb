"""Save a VM into a file behind a header, and restore it: the workflow behind ``qmonexec save``.

:func:`save` never reports success for data that is not on disk.  QEMU ignores
the exit status of an ``exec:`` command and says ``completed`` before the
pipeline has finished writing (REFERENCE.md section 1), so the save URI is the
*stage-status* form (docs/design.md): each pipeline stage ends by creating
``NAME.ok`` or ``NAME.failed`` in a private status directory, with its stderr
in ``NAME.err``.  A save succeeds only when QEMU reports ``completed``, every
stage has written ``NAME.ok``, dd's own byte count matches the file and the
file has been fsync'ed; only then is the header flipped from partial to
complete (:mod:`qmonexec.image`).  See docs/save-restore.md.

Stage names used in :class:`SaveError`: ``target`` and ``header`` (our checks
and the header write), ``qemu`` (QEMU's side of the migration), ``compress``
and ``write`` (the pipeline), ``fsync`` and ``finalize`` (our last steps).

This module is the workflow; its parts have modules of their own:
:mod:`qmonexec.save_errors` (the error types), :mod:`qmonexec.target`
(checks on the target, the private directory, plain-name aliases),
:mod:`qmonexec.programs` (finding dd and the compressor),
:mod:`qmonexec.stages` (the status markers), :mod:`qmonexec.waits` (waiting
on QEMU and the pipeline), :mod:`qmonexec.vmcontrol` (connect, cancel, the
VM afterwards), :mod:`qmonexec.progress` and :mod:`qmonexec.procfs`.  The
public names among them (:class:`SaveError`, :class:`Progress`,
:func:`find_program`, ...) are re-exported here.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BANDWIDTH",
    "STAGES",
    "Progress",
    "RestoreError",
    "RestoreResult",
    "SaveError",
    "SaveResult",
    "VMStateError",
    "find_program",
    "restore",
    "save",
]

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from .errors import InputError
from .image import (
    MAGIC,
    STREAM_ALIGNMENT,
    ImageError,
    ImageHeader,
    IncompleteImageError,
    check_stream,
    encode_header,
    finalize_header,
    new_header,
    parse_header,
    raw_header,
    read_header,
)
from .programs import find_program
from .progress import Meter, Progress
from .save_errors import RestoreError, SaveError, VMStateError
from .spec import COMPRESSIONS, Compression, RestoreSpec, SaveSpec, compression, profile
from .stages import STAGES, Stages, dd_bytes
from .target import alias, check_target, is_plain, parent_dir, private_dir, show
from .vmcontrol import after_completed, apply_then, cancel, connect, query_status, socket_path
from .waits import enable_events, restore_events, wait_completed, wait_loaded, wait_stages

if TYPE_CHECKING:
    from .qmp import QMPClient
    from .shell import Policy

#: ``max-bandwidth`` set for a save unless the caller gives one: 1 TiB/s, i.e. no limit.
#: QEMU's default (128 MiB/s) is meant for the network, not a local file.
DEFAULT_BANDWIDTH = 1 << 40

Then = Literal["pause", "resume", "quit"]

#: Largest dd block size a restore uses: one full pipe buffer.  Measured feeding 1 GiB into a
#: pipe: bs=4096 took about twice as long as 32 KiB to 256 KiB; 1 MiB was no faster and noisier.
_RESTORE_BLOCK = 64 << 10


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


# --------------------------------------------------------------------------- helpers

def _resolve_compression(value: str | Compression | None) -> Compression | None:
    if value is None or isinstance(value, str):
        return compression(value)
    if isinstance(value, Compression):
        return value
    raise InputError(f"compression must be a name or a Compression, not {value!r}", value=value)


def _is_named(comp: Compression) -> bool:
    return COMPRESSIONS.get(comp.name) == comp


# --------------------------------------------------------------------------- save

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
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    if timeout is not None and not timeout > 0:
        raise InputError(f"timeout must be positive, not {timeout!r}", value=timeout)
    if then not in ("pause", "resume", "quit"):
        raise InputError(f"then must be pause, resume or quit, not {then!r}", value=then)
    if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, int)
                                  or bandwidth <= 0):
        raise InputError(f"bandwidth must be a positive number of bytes per second, not "
                         f"{bandwidth!r}", value=bandwidth)
    prof = profile(profile_name)
    proven = prof.name != "libvirt"
    comp = _resolve_compression(compress)
    raw_target = os.fspath(target)
    # SaveSpec checks absoluteness and NUL bytes; the offset is set below.
    SaveSpec(target=raw_target, compression=comp, profile=prof, block_size=block_size)
    check_target(raw_target, socket_path(qmp))
    if comp is not None:
        find_program(comp.compress[0], "compressor")
    elif prof.cat_when_raw:
        find_program("cat", "program")
    find_program("dd", "program")
    if policy is None:
        from .build import policy_for

        policy = policy_for(comp)

    with connect(qmp, qmp_timeout) as client:
        vm_status = query_status(client)
        if vm_status == "postmigrate":
            raise VMStateError(
                "the VM was already migrated or saved (status postmigrate) and QEMU refuses to "
                "migrate it again; to save its current state, resume it first ('qmonexec qmp "
                "--qmp SOCKET cont') or save with the image you already have",
                status=vm_status)
        if vm_status == "inmigrate":
            raise VMStateError(
                "this QEMU is waiting for an incoming migration (started with -incoming) and "
                "has no VM state to save", status=vm_status)
        current = client.query_migrate()
        if current.status in ("setup", "active", "pre-switchover", "device", "cancelling",
                              "postcopy-active", "wait-unplug"):
            raise VMStateError(f"a migration is already running (status {current.status}); "
                               "wait for it or cancel it first", status=current.status)
        greeting = client.greeting
        header: ImageHeader | None = None
        if header_bytes is None:
            header = new_header(
                block_size=block_size,
                compression=comp.name if comp is not None else "raw",
                decompress=None if comp is None or _is_named(comp) else comp.decompress,
                qemu_version=".".join(map(str, greeting.version)),
                qemu_package=greeting.package or None,
                metadata=metadata,
                profile=prof.name,
                alignment=STREAM_ALIGNMENT,
            )
            head = encode_header(header)
        else:
            if metadata is not None:
                raise InputError("metadata cannot be stored with a raw header (header_bytes); "
                                 "put it in your own header")
            head = raw_header(header_bytes, block_size)
        offset = len(head)
        return _run_save(client, raw_target, head, header, offset, comp, prof.name, proven,
                         bandwidth, then, deadline, block_size, policy, progress, started,
                         vm_status)


def _run_save(client: QMPClient, target: str | bytes, head: bytes, header: ImageHeader | None,
              offset: int, comp: Compression | None, profile_name: str, proven: bool,
              bandwidth: int | None, then: Then, deadline: float | None, block_size: int,
              policy: Policy, progress: Callable[[Progress], None] | None,
              started: float, status_before: str) -> SaveResult:
    from .build import save_uri
    from .qmp import ConnectionClosed, QMPError

    parent = os.path.dirname(target)
    work_dir: str | bytes | None = None
    fd: int | None = None
    previous_bandwidth: Any = None
    events_before: bool | None = None
    migrating = completed = False
    try:
        try:
            work_dir = private_dir(parent)
        except OSError as exc:
            raise SaveError("target", f"cannot create the status directory in "
                            f"{show(parent)}: {exc.strerror}", target=target) from None
        status_dir = work_dir if proven else None
        written_as = alias(work_dir, target)
        spec = SaveSpec(target=written_as, offset=offset, compression=comp,
                        profile=profile(profile_name), block_size=block_size,
                        status_dir=status_dir)
        # Render and validate before the first byte is written, so a refused URI
        # never clobbers an existing file.
        uri = save_uri(spec, policy)
        from .quoting import check_qmp_text

        check_qmp_text(uri, what="the save URI (the target name)")
        stages = (Stages(status_dir, STAGES if comp is not None else ("write",))
                  if status_dir is not None else None)
        argv = {"compress": spec.compress_argv or (), "write": ("dd",)}

        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"the target {show(target)} is not a regular file")
            view = memoryview(head)
            while view:
                view = view[os.pwrite(fd, view, len(head) - len(view)):]
            os.ftruncate(fd, offset)
            if info.st_size > 0:
                # Over an older file (perhaps a complete image), the partial header must be
                # on disk before the stream overwrites the old data, or a crash could leave
                # a complete-looking header in front of a mix of old and new bytes.  A new
                # or empty file cannot hold a complete header until finalize_header writes
                # one after the final fsync, so it needs none here: on a busy ext4 this
                # fsync waited 50-550 ms for a journal commit of other files' data.
                os.fsync(fd)
        except OSError as exc:
            raise SaveError("header", f"cannot write the header to {show(target)}: "
                            f"{exc.strerror or exc}", target=target) from None
        if header is not None and encode_header(header) != head:  # pragma: no cover
            raise AssertionError("header encoding changed")

        if bandwidth is not None:
            previous_bandwidth = client.get_parameters().get("max-bandwidth")
            client.set_parameters({"max-bandwidth": bandwidth})
        events_before = enable_events(client)
        client.migrate(uri, policy=policy)
        migrating = True
        meter = Meter("migrate", progress)
        final = wait_completed(client, stages, argv, target, deadline, meter, fd, offset)
        migrating, completed = False, True
        wait_stages(stages, argv, target, deadline, meter, fd, offset, final)

        size = os.fstat(fd).st_size
        stream_length = size - offset
        if stages is not None and "write" in stages.names:
            written = dd_bytes(stages.err("write"))
            if written is not None and written != stream_length:
                raise SaveError("write", f"dd reports {written} bytes written but the file "
                                f"holds {stream_length} bytes after the header", target=target)
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
        seconds = time.monotonic() - started
        final_header: ImageHeader | None = None
        if header is not None:
            try:
                final_header = finalize_header(fd, replace(
                    header, stream_length=stream_length, verified=proven,
                    completed=new_header().created, seconds=round(seconds, 3)))
            except OSError as exc:
                raise SaveError("finalize", f"cannot mark {show(target)} complete: "
                                f"{exc.strerror}", target=target) from None
        vm_status = apply_then(client, then)
        return SaveResult(target, offset, stream_length, seconds, proven, final_header, uri,
                          vm_status, written_as != target)
    except SaveError as exc:
        exc.header = header if fd is not None else None
        if migrating and cancel(client, stages) == "completed":
            completed = True  # the stage failed just as QEMU finished
        if completed:
            exc.args = (f"{exc.args[0]}; {after_completed(client, status_before)}",)
        raise
    except ConnectionClosed as exc:
        raise SaveError("qemu", f"the connection to QEMU was lost during the save ({exc}); "
                        "QEMU probably exited, so the stream is incomplete",
                        header=header if fd is not None else None, target=target) from None
    except QMPError as exc:
        if migrating:
            cancel(client, stages)
        raise SaveError("qemu", str(exc), header=header if fd is not None else None,
                        target=target) from None
    except BaseException:
        if migrating:
            cancel(client, stages)
        raise
    finally:
        if previous_bandwidth is not None:
            with contextlib.suppress(QMPError):
                client.set_parameters({"max-bandwidth": previous_bandwidth})
        restore_events(client, events_before)
        if fd is not None:
            os.close(fd)
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
            if os.path.exists(work_dir):
                # A stage still creating its file raced the removal; try once more.
                time.sleep(0.2)
                shutil.rmtree(work_dir, ignore_errors=True)


# --------------------------------------------------------------------------- restore

def _restore_block_size(offset: int) -> int:
    """dd's ``bs`` to read an image whose stream starts at ``offset``.

    The largest power of two up to :data:`_RESTORE_BLOCK` (64 KiB) dividing
    the offset: 64 KiB for images qmonexec writes now (the offset is aligned
    to :data:`~qmonexec.image.STREAM_ALIGNMENT`), 4096 for older images.
    """
    size = _RESTORE_BLOCK
    while size > 512 and offset % size:
        size //= 2
    return size


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
    Raises :class:`~qmonexec.image.ImageError` subclasses for unusable images,
    :class:`VMStateError` when QEMU is not waiting for an incoming migration,
    :class:`RestoreError` when the load fails.
    """
    from .build import policy_for, restore_uri

    started = time.monotonic()
    if then not in ("pause", "resume"):
        raise InputError(f"then must be pause or resume, not {then!r}", value=then)
    raw_source = os.fspath(source)
    RestoreSpec(source=raw_source)  # absolute, no NUL
    header: ImageHeader | None = None
    try:
        with open(raw_source, "rb") as handle:
            first = handle.read(1 << 20)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise ImageError(f"cannot read the image {show(raw_source)}: {exc.strerror or exc}",
                         path=raw_source) from None
    if offset is None:
        header = read_header(raw_source)
        offset = header.offset
        # Not header.block_size (the unit the offset was rounded to, 4096): the largest
        # block that divides the offset, so an aligned image is read 64 KiB at a time.
        block_size = _restore_block_size(offset)
        if decompress is None and header.compression != "raw":
            if header.decompress is not None:
                raise InputError(
                    f"{show(raw_source)} was compressed with the custom program "
                    f"{header.compression!r}; qmonexec never runs a program named by a file: "
                    f"pass the decompressor yourself (recorded: {' '.join(header.decompress)})")
            decompress = header.compression
    else:
        if first.startswith(MAGIC):
            found = parse_header(first, path=raw_source)
            if not found.complete:
                raise IncompleteImageError(
                    f"{show(raw_source)} is an incomplete qmonexec save (header still partial); "
                    "it cannot be restored", path=raw_source)
        block_size = _restore_block_size(offset)
        check_stream(ImageHeader(offset=offset, block_size=block_size), size, path=raw_source)
    comp = _resolve_compression(decompress)
    if comp is not None:
        find_program(comp.decompress[0], "decompressor")
    find_program("dd", "program")
    if policy is None:
        policy = policy_for(comp)
    work_dir: str | bytes | None = None
    try:
        read_as: str | bytes = raw_source
        if not is_plain(os.path.basename(raw_source)):
            try:
                work_dir = private_dir(os.path.dirname(raw_source))
            except OSError:
                # Restoring needs no write access next to the image: use the temp dir.
                work_dir = tempfile.mkdtemp(prefix="qmonexec-")
            read_as = alias(work_dir, raw_source)
        spec = RestoreSpec(source=read_as, offset=offset, compression=comp,
                           block_size=block_size)
        uri = restore_uri(spec, policy)
        deadline = None if timeout is None else started + timeout
        with connect(qmp, qmp_timeout) as client:
            vm_status = _run_restore(client, uri, policy, os.fsencode(read_as), size, then,
                                     deadline, progress)
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    return RestoreResult(raw_source, offset, comp.name if comp else "raw",
                         time.monotonic() - started, vm_status, header, uri, read_as != raw_source)


def _run_restore(client: QMPClient, uri: str, policy: Policy, read_as: bytes, size: int,
                 then: str, deadline: float | None,
                 progress: Callable[[Progress], None] | None) -> str:
    from .qmp import ConnectionClosed, MigrationError, QMPError

    status = query_status(client)
    if status == "postmigrate":
        raise VMStateError("this VM was already migrated away (status postmigrate); restore "
                           "into a new QEMU started with -incoming defer", status=status)
    if status != "inmigrate":
        raise VMStateError(
            f"QEMU was not started with -incoming defer (status {status}); start the "
            "destination with the same machine options as the source plus -incoming defer",
            status=status)
    if client.query_migrate().status not in ("none",):
        raise VMStateError("an incoming migration was already started in this QEMU; start "
                           "a new one with -incoming defer", status=status)
    events_before = enable_events(client)
    client.migrate_incoming(uri, policy=policy)
    meter = Meter("restore", progress)
    try:
        wait_loaded(client, read_as if progress else None, size, deadline, meter)
    except ConnectionClosed:
        raise RestoreError(
            "qemu", "the destination QEMU exited while loading the image (it does so when "
            "the stream is truncated or corrupt, or the machine options differ from the "
            "source's); see QEMU's stderr") from None
    except (MigrationError, QMPError) as exc:
        raise RestoreError("qemu", str(exc)) from None
    restore_events(client, events_before)
    vm_status = query_status(client)
    if then == "resume":
        client.execute("cont")
    elif vm_status == "running":
        client.execute("stop")
    return query_status(client)
