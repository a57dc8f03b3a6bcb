"""The qmonexec save image: a small self-describing header in front of the migration stream.

Layout (all integers big-endian)::

    offset  size  field
    0       8     magic  b"QMONEXEC"
    8       8     state  b"PARTIAL\\0" while the save runs, b"COMPLETE" once it is proven
    16      4     header format version (1)
    20      4     length L of the JSON metadata in bytes
    24      4     CRC-32 of the JSON metadata
    28      4     reserved, zero
    32      L     JSON metadata (UTF-8, one object, see :class:`ImageHeader`)
    32+L    ...   zero bytes up to ``offset``
    offset  ...   the migration stream (compressed or not), ``stream_length`` bytes

``offset`` is a multiple of ``block_size`` and is chosen when the save starts
so that the *final* metadata (with ``stream_length`` and the completion time
filled in) is guaranteed to fit: the header is rewritten in place, never moved.
``qmonexec save`` also rounds it up to :data:`STREAM_ALIGNMENT` (64 KiB), so a
restore reads the image in 64 KiB blocks (``dd bs=65536``) rather than 4 KiB
ones, which halved the time dd needs to feed 1 GiB into a pipe here.  Readers
take any ``offset`` that is a multiple of ``block_size``: images written with a
4096-byte offset (qmonexec before the alignment) read as before, and older
readers restore aligned images (with ``bs=block_size``), so the format version
stays 1.

Completion follows libvirt's lesson (docs/reference.md, section 7): the header is
first written with the ``PARTIAL`` state.  Only after every pipeline stage has
reported exit status 0 and the file has been fsync'ed is the metadata rewritten
(still ``PARTIAL``), fdatasync'ed, and then the 8 state bytes alone are
overwritten with ``COMPLETE`` and fdatasync'ed again (the header's blocks and
the file size are already on disk, so no journal commit is needed: an fsync
here could wait for other files' data on a busy ext4).  That last write is 8 bytes
inside the first sector, so a crash leaves either a partial or a complete
image, never a complete-looking one with stale metadata (the CRC catches a torn
metadata write anyway).

Raw mode (:func:`raw_header`) writes the user's own bytes instead, padded
with zeros to a block multiple; such a file carries no completion marker.
"""

from __future__ import annotations

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "PREFIX_SIZE",
    "STATE_COMPLETE",
    "STATE_PARTIAL",
    "STREAM_ALIGNMENT",
    "CorruptHeaderError",
    "ForeignFormatError",
    "ImageError",
    "ImageHeader",
    "IncompleteImageError",
    "TruncatedImageError",
    "UnsupportedVersionError",
    "check_stream",
    "encode_header",
    "finalize_header",
    "new_header",
    "parse_header",
    "raw_header",
    "read_header",
    "write_head",
    "write_header",
]

import datetime as _dt
import json
import os
import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

from .. import __version__
from ..errors import InputError
from ..spec import BLOCK_SIZE_RANGE

MAGIC = b"QMONEXEC"
STATE_PARTIAL = b"PARTIAL\0"
STATE_COMPLETE = b"COMPLETE"
FORMAT_VERSION = 1
_PREFIX = struct.Struct(">8s8sIIII")
PREFIX_SIZE = _PREFIX.size  # 32
#: Largest JSON metadata accepted when reading (and written): 1 MiB.
MAX_METADATA = 1 << 20
#: Largest user metadata object, as compact JSON.
MAX_USER_METADATA = 64 << 10
_STATE_OFFSET = len(MAGIC)
#: Where ``qmonexec save`` starts the stream: a multiple of this (64 KiB, a full pipe buffer),
#: so a restore can read the image with ``dd bs=65536`` (16,384 reads per GiB) instead of
#: ``bs=4096`` (262,144).  Costs at most 60 KiB of zeros per image.
STREAM_ALIGNMENT = 64 << 10

#: Other formats we can name when someone hands us their file.
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"LibvirtQemudSave", "a libvirt save image (use virsh restore)"),
    (b"LibvirtQemudPart", "an unfinished libvirt save image"),
    (b"QEVM", "a bare QEMU migration stream with no header (restore it with --offset 0)"),
    (b"\x1f\x8b", "a gzip file (a compressed stream with no header: --offset 0 --decompress gzip)"),
    (b"\x28\xb5\x2f\xfd", "a zstd file (--offset 0 --decompress zstd)"),
    (b"\xfd7zXZ\x00", "an xz file (--offset 0 --decompress xz)"),
)


class ImageError(InputError):
    """A save image cannot be used; ``path`` names the file when known."""

    def __init__(self, message: str, *, path: str | bytes | None = None) -> None:
        super().__init__(message, value=path)
        self.path = path


class ForeignFormatError(ImageError):
    """The file does not start with a qmonexec header."""


class UnsupportedVersionError(ImageError):
    """The header is a qmonexec header of a format version this qmonexec cannot read."""


class CorruptHeaderError(ImageError):
    """The header is a qmonexec header whose fields are damaged or inconsistent."""


class TruncatedImageError(ImageError):
    """The file ends before the header or before the end of the recorded stream."""


class IncompleteImageError(ImageError):
    """The header is still marked partial: the save never finished (or was never proven)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _round_up(value: int, block: int) -> int:
    return -(-value // block) * block


@dataclass(frozen=True)
class ImageHeader:
    """The metadata of a save image.

    ``offset``: where the stream starts (a multiple of ``block_size``).
    ``compression``: ``"raw"``, a named format (``gzip``, ``zstd``, ...) or a
    custom compressor's name; ``decompress`` is then the argv recorded for
    information only (restore never runs a program named by a file).
    ``created``/``completed``: ISO 8601 UTC times.  ``qemu_version``: from the
    QMP greeting.  ``metadata``: the user's JSON object or ``None``.
    ``stream_length``: bytes of stream behind the header, recorded at
    completion.  ``verified``: every pipeline stage was proven to exit 0
    (``False`` for the libvirt profile, which cannot prove it).
    ``complete``: the state field says ``COMPLETE``.
    """

    offset: int
    block_size: int = 4096
    compression: str = "raw"
    created: str = field(default_factory=_now)
    qemu_version: str | None = None
    qemu_package: str | None = None
    metadata: dict[str, Any] | None = None
    decompress: tuple[str, ...] | None = None
    profile: str = "default"
    tool: str = f"qmonexec {__version__}"
    stream_length: int | None = None
    completed: str | None = None
    seconds: float | None = None
    verified: bool | None = None
    complete: bool = False
    version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        """The JSON metadata object (everything but ``complete`` and ``version``)."""
        return {
            "offset": self.offset,
            "block_size": self.block_size,
            "compression": self.compression,
            "decompress": list(self.decompress) if self.decompress is not None else None,
            "created": self.created,
            "qemu_version": self.qemu_version,
            "qemu_package": self.qemu_package,
            "profile": self.profile,
            "tool": self.tool,
            "metadata": self.metadata,
            "stream_length": self.stream_length,
            "completed": self.completed,
            "seconds": self.seconds,
            "verified": self.verified,
        }

    def describe(self) -> dict[str, Any]:
        """Everything ``qmonexec inspect --json`` prints."""
        return {
            "format": "qmonexec",
            "version": self.version,
            "state": "complete" if self.complete else "partial",
            **self.to_json(),
        }


def _metadata_bytes(header: ImageHeader) -> bytes:
    return json.dumps(header.to_json(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False).encode("ascii")


def _check_user_metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InputError(f"user metadata must be a JSON object, not {type(metadata).__name__}; "
                         'e.g. --metadata \'{"vm": "web1"}\'', value=metadata)
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"user metadata cannot be stored as JSON: {exc}", value=metadata) from None
    if len(text) > MAX_USER_METADATA:
        raise InputError(f"user metadata is {len(text)} bytes as JSON; the limit is "
                         f"{MAX_USER_METADATA}", value=metadata)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def new_header(
    *,
    block_size: int = 4096,
    compression: str = "raw",
    decompress: tuple[str, ...] | None = None,
    qemu_version: str | None = None,
    qemu_package: str | None = None,
    metadata: dict[str, Any] | None = None,
    profile: str = "default",
    created: str | None = None,
    alignment: int = 1,
) -> ImageHeader:
    """A partial header whose ``offset`` leaves room for the final metadata.

    The offset is the smallest multiple of ``block_size`` and of ``alignment``
    (a power of two; :func:`qmonexec.save.save` passes :data:`STREAM_ALIGNMENT`)
    that holds the metadata with the completion fields at their widest values.
    """
    if alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 30:
        raise InputError(f"alignment {alignment} is not a power of two up to 1 GiB",
                         value=alignment)
    if block_size <= 0 or block_size & (block_size - 1) or not (
        BLOCK_SIZE_RANGE[0] <= block_size <= BLOCK_SIZE_RANGE[1]
    ):
        raise InputError(f"block size {block_size} is not a power of two between "
                         f"{BLOCK_SIZE_RANGE[0]} and {BLOCK_SIZE_RANGE[1]}", value=block_size)
    draft = ImageHeader(
        offset=0,
        block_size=block_size,
        compression=compression,
        decompress=decompress,
        qemu_version=qemu_version,
        qemu_package=qemu_package,
        metadata=_check_user_metadata(metadata),
        profile=profile,
        created=created if created is not None else _now(),
    )
    # Widest values every field can take at completion; the offset field too.
    widest = replace(draft, offset=1 << 62, stream_length=(1 << 63) - 1,
                     completed="9999-12-31T23:59:59+00:00", seconds=-1.0e300 / 3,
                     verified=False)
    size = PREFIX_SIZE + len(_metadata_bytes(widest))
    if size - PREFIX_SIZE > MAX_METADATA:
        raise InputError(f"the header metadata would be {size} bytes; the limit is {MAX_METADATA}")
    return replace(draft, offset=_round_up(size, max(block_size, alignment)))


def encode_header(header: ImageHeader) -> bytes:
    """The ``header.offset`` bytes to write at byte 0 (state from ``header.complete``)."""
    body = _metadata_bytes(header)
    state = STATE_COMPLETE if header.complete else STATE_PARTIAL
    prefix = _PREFIX.pack(MAGIC, state, header.version, len(body), zlib.crc32(body), 0)
    data = prefix + body
    if len(data) > header.offset:
        raise InputError(f"the header needs {len(data)} bytes but the stream starts at "
                         f"{header.offset}; build headers with new_header()")
    return data + bytes(header.offset - len(data))


def raw_header(data: bytes, block_size: int = 4096) -> bytes:
    """The user's own header bytes, padded with zeros to a multiple of ``block_size``."""
    if not isinstance(data, bytes):
        raise InputError(f"a raw header must be bytes, not {type(data).__name__}")
    return data + bytes(_round_up(len(data), block_size) - len(data))


def _show(path: str | bytes | None) -> str:
    if path is None:
        return "the image"
    return repr(os.fsdecode(path))


def parse_header(data: bytes, *, path: str | bytes | None = None) -> ImageHeader:
    """Parse the first bytes of an image (at least the prefix and the metadata).

    Raises :class:`ForeignFormatError`, :class:`UnsupportedVersionError`,
    :class:`TruncatedImageError` or :class:`CorruptHeaderError`.  A partial
    header parses fine (``complete`` is false); callers that need a finished
    image use :func:`read_header`.
    """
    name = _show(path)
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        raise TruncatedImageError(
            f"{name} is {len(data)} bytes long: too short to hold a qmonexec header", path=path)
    if not data.startswith(MAGIC):
        for magic, what in _FOREIGN:
            if data.startswith(magic):
                raise ForeignFormatError(f"{name} is not a qmonexec image: it looks like {what}",
                                         path=path)
        raise ForeignFormatError(
            f"{name} is not a qmonexec image (it does not start with {MAGIC.decode()}); for an "
            "image with a header of your own, give --offset and --decompress", path=path)
    if len(data) < PREFIX_SIZE:
        raise TruncatedImageError(f"{name} ends inside the qmonexec header ({len(data)} of "
                                  f"{PREFIX_SIZE} fixed bytes)", path=path)
    _, state, version, length, crc, _reserved = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"{name} is a qmonexec image of header format version {version}; this qmonexec "
            f"({__version__}) reads version {FORMAT_VERSION} only", path=path)
    if state not in (STATE_PARTIAL, STATE_COMPLETE):
        raise CorruptHeaderError(f"{name} has an unknown state field {state!r}", path=path)
    if length > MAX_METADATA:
        raise CorruptHeaderError(f"{name} claims {length} bytes of metadata (limit "
                                 f"{MAX_METADATA}): the header is damaged", path=path)
    if len(data) < PREFIX_SIZE + length:
        raise TruncatedImageError(f"{name} ends inside the header metadata ({len(data)} bytes, "
                                  f"the metadata ends at {PREFIX_SIZE + length})", path=path)
    body = data[PREFIX_SIZE: PREFIX_SIZE + length]
    if zlib.crc32(body) != crc:
        raise CorruptHeaderError(f"{name} has a header whose checksum does not match: the "
                                 "header is damaged", path=path)
    try:
        meta = json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptHeaderError(f"{name} has unreadable header metadata: {exc}",
                                 path=path) from None
    if not isinstance(meta, dict):
        raise CorruptHeaderError(f"{name} has header metadata that is not an object", path=path)
    return _from_json(meta, complete=state == STATE_COMPLETE, path=path,
                      prefix=PREFIX_SIZE + length)


def _from_json(meta: dict[str, Any], *, complete: bool, path: str | bytes | None,
               prefix: int) -> ImageHeader:
    name = _show(path)

    def need(key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
        value = meta.get(key)
        if value is None and optional:
            return None
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise CorruptHeaderError(f"{name} has a header field {key!r} of the wrong type "
                                     f"({value!r})", path=path)
        return value

    offset = need("offset", int)
    block_size = need("block_size", int)
    if block_size <= 0 or block_size & (block_size - 1) or offset % block_size or offset < prefix:
        raise CorruptHeaderError(f"{name} has an inconsistent header: offset {offset}, block "
                                 f"size {block_size}", path=path)
    decompress = need("decompress", list, optional=True)
    if decompress is not None and not all(isinstance(w, str) for w in decompress):
        raise CorruptHeaderError(f"{name} has a malformed 'decompress' field", path=path)
    length = need("stream_length", int, optional=True)
    if length is not None and length < 0:
        raise CorruptHeaderError(f"{name} records a negative stream length", path=path)
    seconds = need("seconds", (int, float), optional=True)
    return ImageHeader(
        offset=offset,
        block_size=block_size,
        compression=need("compression", str),
        created=need("created", str),
        qemu_version=need("qemu_version", str, optional=True),
        qemu_package=need("qemu_package", str, optional=True),
        metadata=need("metadata", dict, optional=True),
        decompress=tuple(decompress) if decompress is not None else None,
        profile=need("profile", str, optional=True) or "default",
        tool=need("tool", str, optional=True) or "",
        stream_length=length,
        completed=need("completed", str, optional=True),
        seconds=float(seconds) if seconds is not None else None,
        verified=need("verified", bool, optional=True),
        complete=complete,
    )


def check_stream(header: ImageHeader, size: int, *, path: str | bytes | None = None) -> None:
    """Raise :class:`TruncatedImageError` unless a file of ``size`` bytes holds the whole stream."""
    name = _show(path)
    if size < header.offset:
        raise TruncatedImageError(f"{name} is {size} bytes long, shorter than its header "
                                  f"({header.offset} bytes): the image is truncated", path=path)
    if header.stream_length is None:
        return
    expected = header.offset + header.stream_length
    if size < expected:
        raise TruncatedImageError(
            f"{name} is truncated: {size} bytes, but the header records {header.stream_length} "
            f"bytes of stream after byte {header.offset} ({expected} in all)", path=path)
    if size > expected:
        raise TruncatedImageError(
            f"{name} is {size} bytes, longer than the {expected} its header records: the file "
            "was changed after the save", path=path)


def read_header(path: str | bytes | os.PathLike[str], *, require_complete: bool = True,
                check_size: bool = True) -> ImageHeader:
    """Read and check the header of the image at ``path``.

    With ``require_complete`` a partial header raises
    :class:`IncompleteImageError`; with ``check_size`` a file shorter (or
    longer) than the recorded stream raises :class:`TruncatedImageError`.
    An unreadable file raises :class:`ImageError` naming the OS error.
    """
    raw = os.fspath(path)
    try:
        with open(raw, "rb") as handle:
            data = handle.read(PREFIX_SIZE)
            if len(data) == PREFIX_SIZE and data.startswith(MAGIC):
                length = _PREFIX.unpack_from(data)[3]
                if length <= MAX_METADATA:
                    data += handle.read(length)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise ImageError(f"cannot read {_show(raw)}: {exc.strerror or exc}", path=raw) from None
    header = parse_header(data, path=raw)
    if require_complete and not header.complete:
        raise IncompleteImageError(
            f"{_show(raw)} is an incomplete save: its header is still marked partial, so the "
            "save was interrupted or failed and the stream may be cut short; it cannot be "
            "restored", path=raw)
    if check_size:
        check_stream(header, size, path=raw)
    return header


def write_header(fd: int, header: ImageHeader) -> None:
    """Write ``header`` at byte 0 of ``fd`` and cut the file to ``header.offset`` bytes."""
    write_head(fd, encode_header(header))


def write_head(fd: int, data: bytes) -> None:
    """Write ``data`` (an encoded or a raw header) at byte 0 of ``fd`` and cut the file there."""
    _pwrite_all(fd, data, 0)
    os.ftruncate(fd, len(data))


def finalize_header(fd: int, header: ImageHeader) -> ImageHeader:
    """Mark the image complete, in the crash-safe order described in the module docstring.

    ``header`` carries the final metadata (``complete`` is ignored); the file
    data must already be fsync'ed.  Returns the header as now on disk.
    """
    partial = replace(header, complete=False)
    data = encode_header(partial)
    _pwrite_all(fd, data, 0)
    _datasync(fd)
    _pwrite_all(fd, STATE_COMPLETE, _STATE_OFFSET)
    _datasync(fd)
    return replace(header, complete=True)


def _datasync(fd: int) -> None:
    """``fdatasync`` where the system has it (Linux), else ``fsync``.

    Enough after overwriting blocks inside the file: their data reaches the
    disk (with any metadata needed to read it back, such as the size), and
    only the timestamps are left for the next journal commit.
    """
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
