"""libvirt's save images (``virsh save``): read the header, restore the stream behind it.

Layout (libvirt ``src/qemu/qemu_saveimage.h``, version 2; integers in the
byte order of the host that wrote it)::

    offset  size  field
    0       16    magic  "LibvirtQemudSave" ("LibvirtQemudPart" while unfinished)
    16      4     version (2)
    20      4     data_len: bytes of domain XML (NUL-terminated) + cookie (+ padding)
    24      4     was_running (1: the domain ran before the save)
    28      4     format: raw 0, gzip 1, bzip2 2, xz 3, lzop 4, zstd 5, sparse 6
    32      4     cookieOffset (into the data; 0: no cookie)
    36      56    unused (14 x u32)
    92      ...   data_len bytes: the domain XML, its NUL, the cookie
    92+data_len   the QEMU migration stream (compressed by ``format``)

The stream offset need not be a multiple of any block size, so the restore
does not go through ``exec:dd ... skip=N``: qmonexec opens the image, seeks
to the stream, and passes QEMU the file (raw) or a pipe from the
decompressor it runs itself (``NAME -dc``, reading the file from there) as
``fd:`` over the QMP socket (``getfd``).  ``sparse`` images (QEMU's
mapped-ram file layout) are refused, and so are unfinished ones.
"""

from __future__ import annotations

__all__ = [
    "FORMATS",
    "LIBVIRT_MAGIC",
    "LIBVIRT_PARTIAL",
    "LibvirtImage",
    "is_libvirt",
    "read_libvirt",
]

import os
import struct
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any

from .image import ForeignFormatError, ImageError, IncompleteImageError, TruncatedImageError

LIBVIRT_MAGIC = b"LibvirtQemudSave"
LIBVIRT_PARTIAL = b"LibvirtQemudPart"
_VERSION = 2
_HEADER = struct.Struct("=16sIIIII14I")  # 92 bytes, host byte order
#: libvirt's format numbers; ``sparse`` is recognised but not restored.
FORMATS: dict[int, str] = {0: "raw", 1: "gzip", 2: "bzip2", 3: "xz", 4: "lzop", 5: "zstd",
                           6: "sparse"}
#: Largest XML + cookie accepted (libvirt's own limit is 10 MiB).
_MAX_DATA = 10 << 20
_UNITS = {"b": 1, "bytes": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1000, "m": 1 << 20,
          "mib": 1 << 20, "mb": 1000 ** 2, "g": 1 << 30, "gib": 1 << 30, "gb": 1000 ** 3}


def _show(path: str | bytes) -> str:
    return repr(os.fsdecode(path))


@dataclass(frozen=True)
class LibvirtImage:
    """What a libvirt save image's header and domain XML say."""

    path: str | bytes
    complete: bool
    version: int
    was_running: bool
    format: str
    stream_offset: int
    file_size: int
    xml: str
    name: str | None
    memory: int | None
    machine: str | None

    def describe(self) -> dict[str, Any]:
        """Everything ``qmonexec inspect`` prints for it."""
        return {"format": "libvirt", "state": "complete" if self.complete else "partial",
                "version": self.version, "was_running": self.was_running,
                "compression": self.format, "stream_offset": self.stream_offset,
                "file_size": self.file_size, "name": self.name, "memory": self.memory,
                "machine": self.machine}

    @property
    def source(self) -> dict[str, Any]:
        """The machine type and RAM size to compare with a destination (:mod:`.destination`)."""
        return {"machine": self.machine, "ram_size": self.memory, "running": self.was_running}


def is_libvirt(path: str | bytes) -> bool:
    """Whether ``path`` starts with either libvirt magic (unreadable files: ``False``)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) in (LIBVIRT_MAGIC, LIBVIRT_PARTIAL)
    except OSError:
        return False


def _memory(root: ElementTree.Element) -> int | None:
    node = root.find("memory")
    if node is None or node.text is None:
        return None
    try:
        value = int(node.text.strip())
    except ValueError:
        return None
    unit = _UNITS.get((node.get("unit") or "KiB").lower())
    return value * unit if unit is not None else None


def _parse_xml(xml: str, path: str | bytes) -> tuple[str | None, int | None, str | None]:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise ImageError(f"{_show(path)} is a libvirt save image whose domain XML cannot be "
                         f"read: {exc}", path=path) from None
    os_type = root.find("os/type")
    return (root.findtext("name"), _memory(root),
            os_type.get("machine") if os_type is not None else None)


def read_libvirt(path: str | bytes) -> LibvirtImage:
    """Read the header and domain XML of the libvirt save image at ``path``.

    Raises :class:`ForeignFormatError` (not a libvirt image, another version
    or byte order), :class:`TruncatedImageError`, :class:`ImageError`.  An
    unfinished image (``LibvirtQemudPart``) is returned with ``complete``
    false; :func:`qmonexec.save.restore` refuses it.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEADER.size)
            size = os.fstat(handle.fileno()).st_size
            if len(head) < _HEADER.size:
                raise TruncatedImageError(f"{_show(path)} ends inside the libvirt header "
                                          f"({len(head)} of {_HEADER.size} bytes)", path=path)
            magic, version, data_len, was_running, fmt, _cookie, *_ = _HEADER.unpack(head)
            if magic not in (LIBVIRT_MAGIC, LIBVIRT_PARTIAL):
                raise ForeignFormatError(f"{_show(path)} is not a libvirt save image", path=path)
            if version != _VERSION:
                other = "the other byte order than this host's" if struct.unpack(
                    "<I" if sys.byteorder == "big" else ">I", head[16:20])[0] == _VERSION \
                    else f"version {version}"
                raise ForeignFormatError(f"{_show(path)} is a libvirt save image of {other}; "
                                         f"qmonexec reads version {_VERSION} written on a "
                                         "host of the same byte order", path=path)
            if data_len > _MAX_DATA or _HEADER.size + data_len > size:
                raise TruncatedImageError(f"{_show(path)} records {data_len} bytes of domain "
                                          f"XML but is {size} bytes long", path=path)
            data = handle.read(data_len)
    except OSError as exc:
        raise ImageError(f"cannot read {_show(path)}: {exc.strerror or exc}", path=path) from None
    xml = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    name, memory, machine = _parse_xml(xml, path)
    return LibvirtImage(path=path, complete=magic == LIBVIRT_MAGIC, version=version,
                        was_running=bool(was_running), format=FORMATS.get(fmt, f"unknown ({fmt})"),
                        stream_offset=_HEADER.size + data_len, file_size=size, xml=xml,
                        name=name, memory=memory, machine=machine)


def check_restorable(image: LibvirtImage) -> None:
    """Raise unless the stream of ``image`` can be loaded (complete, a format we can read)."""
    if not image.complete:
        raise IncompleteImageError(
            f"{_show(image.path)} is an unfinished libvirt save (magic LibvirtQemudPart): the "
            "save was interrupted or failed, so the stream may be cut short", path=image.path)
    if image.format == "sparse":
        raise ImageError(
            f"{_show(image.path)} is a libvirt save in the 'sparse' format: QEMU's mapped-ram "
            "layout, which QEMU reads only with a file: migration and the mapped-ram "
            "capability; qmonexec does not restore it (use virsh restore)", path=image.path)
    if image.format not in FORMATS.values():
        raise ImageError(f"{_show(image.path)} is a libvirt save in an unknown format "
                         f"{image.format}", path=image.path)
    if image.file_size <= image.stream_offset:
        raise TruncatedImageError(f"{_show(image.path)} holds no stream after its header",
                                  path=image.path)
