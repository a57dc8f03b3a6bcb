"""The plans of a save and a restore: every input checked once, before QEMU is asked.

:func:`plan_save` and :func:`plan_restore` turn the caller's arguments into a
frozen :class:`SavePlan` or :class:`RestorePlan` (bad input raises
:class:`~qmonexec.errors.InputError` here, before any file is written or any
command is sent); the workflows in :mod:`.save` and :mod:`.restore` take the
plan and nothing else of the caller's.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BANDWIDTH",
    "CustomCompressorError",
    "RestorePlan",
    "RestoreThen",
    "SavePlan",
    "Then",
    "plain_name",
    "plan_restore",
    "plan_save",
    "resolve_compression",
    "resolve_then",
]

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ..limits import qmp_text_problem
from ..spec import (
    COMPRESSIONS,
    PROFILES,
    Compression,
    RestoreSpec,
    SaveSpec,
    absolute_path,
    compression,
)
from ..spec import profile as find_profile
from ..vocabulary import AFTER_RESTORE, AFTER_SAVE, AS_SAVED, spoken
from .image import (
    MAGIC,
    ImageError,
    ImageHeader,
    IncompleteImageError,
    TruncatedImageError,
    check_stream,
    parse_header,
    read_header,
)
from .programs import find_program
from .progress import Progress
from .source import source_running
from .target import check_target, show
from .transport import check_request

if TYPE_CHECKING:
    from ..shell import Policy

#: ``max-bandwidth`` set for a save unless the caller gives one: 1 TiB/s, i.e. no limit.
#: QEMU's default (128 MiB/s) is meant for the network, not a local file.
DEFAULT_BANDWIDTH = 1 << 40

Then = Literal["pause", "resume", "quit"]
RestoreThen = Literal["as-saved", "pause", "resume"]

ProgressHook = Callable[[Progress], None]


class CustomCompressorError(InputError):
    """The header names a custom compressor; ``recorded`` is its decompressor argv (never run
    unless the caller passes it)."""

    def __init__(self, message: str, *, recorded: tuple[str, ...]) -> None:
        super().__init__(message, value=recorded)
        self.recorded = recorded


def resolve_compression(value: str | Compression | None) -> Compression | None:
    """``value`` (a format name, ``None``/``raw`` for none, or a :class:`Compression`) resolved."""
    if value is None or isinstance(value, str):
        return compression(value)
    if isinstance(value, Compression):
        return value
    raise InputError(f"compression must be a name or a Compression, not {value!r}", value=value)


def is_named(comp: Compression) -> bool:
    """Whether ``comp`` is one of the named formats (not a custom program)."""
    return COMPRESSIONS.get(comp.name) == comp


def _policy(policy: Policy | None, comp: Compression | None) -> Policy:
    if policy is not None:
        return policy
    from ..build import policy_for

    return policy_for(comp)


def _deadline(started: float, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InputError(f"timeout must be positive, not {timeout!r}", value=timeout)
    return started + timeout


@dataclass(frozen=True)
class _Plan:
    """What a save and a restore both carry: the validator's policy, the progress hook, the
    start time and the deadline (:func:`time.monotonic` values; ``None``: no limit)."""

    policy: Policy
    progress: ProgressHook | None
    started: float
    deadline: float | None


@dataclass(frozen=True)
class SavePlan(_Plan):
    """A checked save: what to write where, and how to treat QEMU meanwhile.

    ``spec`` holds the target (absolute), compression, profile and block size;
    the workflow derives the rendered spec from it once the header length (the
    stream offset) and the status directory are known.
    """

    spec: SaveSpec
    metadata: dict[str, Any] | None
    header_bytes: bytes | None
    bandwidth: int | None
    then: Then
    #: ``--transport``: ``auto``, ``exec``, ``fd`` or ``file`` (:mod:`.transport`).
    transport: str = "auto"
    #: ``--parallel``: multifd channels writing the mapped-ram layout, or ``None``.
    parallel: int | None = None
    direct_io: bool = False
    #: Record the source QEMU's argv (secrets redacted) in the header.
    record_cmdline: bool = True
    #: On failure keep the temporary file (named in the error) instead of removing it.
    keep_partial: bool = False

    @property
    def target(self) -> str | bytes:
        """The file the save writes."""
        return self.spec.target

    @property
    def proven(self) -> bool:
        """Whether the rendered command records each stage's exit status (not libvirt's form)."""
        return self.spec.profile.name != "libvirt"


def plan_save(target: str | bytes | os.PathLike[str], *, compress: str | Compression | None,
              metadata: dict[str, Any] | None, header_bytes: bytes | None,
              bandwidth: int | None, then: Then, timeout: float | None, profile_name: str,
              block_size: int, policy: Policy | None, progress: ProgressHook | None,
              qmp_socket: str | None, transport: str = "auto", parallel: int | None = None,
              direct_io: bool = False, record_cmdline: bool = True,
              keep_partial: bool = False) -> SavePlan:
    """Check the arguments of :func:`qmonexec.save.save`; find the programs the pipeline runs."""
    started = time.monotonic()
    deadline = _deadline(started, timeout)
    if then not in AFTER_SAVE:
        raise InputError(f"then must be {spoken(AFTER_SAVE)}, not {then!r}", value=then)
    if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, int)
                                  or bandwidth <= 0):
        raise InputError(f"bandwidth must be a positive number of bytes per second, not "
                         f"{bandwidth!r}", value=bandwidth)
    if header_bytes is not None and metadata is not None:
        raise InputError("metadata cannot be stored with a raw header (header_bytes); "
                         "put it in your own header")
    comp = resolve_compression(compress)
    check_request(transport, compressed=comp is not None, profile_name=profile_name,
                  parallel=parallel, direct_io=direct_io, plain_name=plain_name(target))
    prof = find_profile(profile_name)
    spec = SaveSpec(target=os.fspath(target), compression=comp, profile=prof,
                    block_size=block_size)
    check_target(spec.target, qmp_socket)
    if comp is not None:
        find_program(comp.compress[0], "compressor")
    elif prof.cat_when_raw:
        find_program("cat", "program")
    find_program("dd", "program")
    return SavePlan(policy=_policy(policy, comp), progress=progress, started=started,
                    deadline=deadline, spec=spec, metadata=metadata, header_bytes=header_bytes,
                    bandwidth=bandwidth, then=then, transport=transport, parallel=parallel,
                    direct_io=direct_io, record_cmdline=record_cmdline,
                    keep_partial=keep_partial)


@dataclass(frozen=True)
class RestorePlan(_Plan):
    """A checked restore: the image, where its stream starts, how to read it, the VM after."""

    spec: RestoreSpec
    size: int
    header: ImageHeader | None
    then: Literal["pause", "resume"]
    transport: str = "auto"
    parallel: int | None = None
    #: Load even when the destination's machine type or RAM size differs from the header's.
    force: bool = False
    #: The multifd channels of a mapped-ram image read with O_DIRECT.
    direct_io: bool = False

    @property
    def source(self) -> str | bytes:
        """The image file."""
        return self.spec.source


def _from_header(source: str | bytes, decompress: str | Compression | None,
                 ) -> tuple[ImageHeader, str | Compression | None]:
    """The complete header of ``source`` and the decompressor it names (never a custom one)."""
    header = read_header(source)
    if decompress is None and header.compression != "raw":
        if header.decompress is not None:
            raise CustomCompressorError(
                f"{show(source)} was compressed with the custom program "
                f"{header.compression!r}; qmonexec never runs a program named by a file: "
                f"pass the decompressor yourself (restore(..., decompress="
                f"Compression.custom({list(header.decompress)!r})))",
                recorded=header.decompress)
        decompress = header.compression
    return header, decompress


def plan_restore(source: str | bytes | os.PathLike[str], *, offset: int | None,
                 decompress: str | Compression | None, then: RestoreThen,
                 timeout: float | None, policy: Policy | None,
                 progress: ProgressHook | None, transport: str = "auto",
                 parallel: int | None = None, force: bool = False,
                 direct_io: bool = False) -> RestorePlan:
    """Check the arguments of :func:`qmonexec.save.restore` and the image itself."""
    started = time.monotonic()
    deadline = _deadline(started, timeout)
    if then not in AFTER_RESTORE:
        raise InputError(f"then must be {spoken(AFTER_RESTORE)}, not {then!r}", value=then)
    raw_source = absolute_path(os.fspath(source), "source")
    try:
        with open(raw_source, "rb") as handle:
            first = handle.read(1 << 20)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise ImageError(f"cannot read the image {show(raw_source)}: {exc.strerror or exc}",
                         path=raw_source) from None
    header: ImageHeader | None = None
    if offset is None:
        header, decompress = _from_header(raw_source, decompress)
        offset = header.offset
    elif first.startswith(MAGIC) and not parse_header(first, path=raw_source).complete:
        raise IncompleteImageError(
            f"{show(raw_source)} is an incomplete qmonexec save (header still partial); "
            "it cannot be restored", path=raw_source)
    # Not header.block_size (the unit the offset was rounded to, 4096): the current default
    # profile's read size, the one `qmonexec uri restore` renders too (64 KiB for an aligned
    # image).
    block_size = PROFILES["default"].restore_block_size(offset)
    if header is None:
        check_stream(ImageHeader(offset=offset, block_size=block_size), size, path=raw_source)
        if size == offset:
            # QEMU never ends a load whose stream ends before its first byte.
            raise TruncatedImageError(f"{show(raw_source)} holds no stream after byte {offset}: "
                                      "nothing to load (is the offset right?)", path=raw_source)
    comp = resolve_compression(decompress)
    _check_restore_transport(transport, comp is not None, header, parallel, raw_source,
                             direct_io)
    spec = RestoreSpec(source=raw_source, offset=offset, compression=comp,
                       block_size=block_size)
    if comp is not None:
        find_program(comp.decompress[0], "decompressor")
    find_program("dd", "program")
    return RestorePlan(policy=_policy(policy, comp), progress=progress, started=started,
                       deadline=deadline, spec=spec, size=size, header=header,
                       then=resolve_then(then, header), transport=transport,
                       parallel=parallel, force=force, direct_io=direct_io)


def plain_name(path: str | bytes | os.PathLike[str]) -> bool:
    """Whether ``path`` can travel in a QMP string (UTF-8, no NUL), as an exec: URI must."""
    text = os.fsdecode(path)
    return all(qmp_text_problem(ch) is None for ch in text)


def _check_restore_transport(transport: str, compressed: bool, header: ImageHeader | None,
                             parallel: int | None, source: str | bytes,
                             direct_io: bool = False) -> None:
    """Refuse a transport that cannot read this image, before QEMU is asked.

    An image without a qmonexec header (``--offset``) is taken for the mapped-ram
    layout when ``parallel`` says so: nothing else can tell.
    """
    mapped = header.mapped_ram if header is not None else parallel is not None
    if mapped and transport in ("exec", "fd"):
        raise InputError(f"{show(source)} holds the mapped-ram layout (saved with "
                         f"--parallel), which only --transport file (or auto) can load",
                         value=transport)
    if parallel is not None and not mapped:
        raise InputError("--parallel applies to images saved with --parallel (the mapped-ram "
                         "layout); leave it out for this image", value=parallel)
    if direct_io and not mapped:
        raise InputError("--direct-io applies to images saved with --parallel (the mapped-ram "
                         "layout), whose channels it reads with O_DIRECT; leave it out for "
                         "this image", value=direct_io)
    check_request(transport, compressed=compressed, profile_name="default",
                  parallel=parallel if mapped else None, direct_io=False,
                  plain_name=plain_name(source))


def resolve_then(then: RestoreThen, header: ImageHeader | None) -> Literal["pause", "resume"]:
    """``as-saved``: ``pause`` for a source that was paused, ``resume`` for a running one or
    an image that does not record its state (as before version 2)."""
    if then == AS_SAVED:
        paused = source_running(header.source if header else None) is False
        return "pause" if paused else "resume"
    return "pause" if then == "pause" else "resume"
