"""The restore string for a qmonexec image, decided by the image's own header.

``qmonexec uri restore --from-image PATH`` and :func:`restore_spec_from_image`
read the header the save wrote and build the :class:`~qmonexec.spec.RestoreSpec`
that ``qmonexec restore`` uses for the same image: the recorded offset and
compression, and (with the current ``default`` profile) the largest block up
to 64 KiB dividing the offset.  An image no ``exec:`` string can restore (not
a qmonexec image, a partial or truncated save, a stream offset dd cannot skip
to, a custom compressor nobody named) raises an ``InputError`` saying why.
"""

from __future__ import annotations

__all__ = ["restore_spec_from_image"]

import os

from ..errors import InputError
from ..spec import BLOCK_SIZE_RANGE, Compression, Profile, RestoreSpec, compression
from .image import ForeignFormatError, ImageError, read_header


def restore_spec_from_image(
    path: str | bytes | os.PathLike[str],
    *,
    source: str | bytes | None = None,
    decompress: Compression | None = None,
    block_size: int | None = None,
    profile: str | Profile = "default",
) -> RestoreSpec:
    """The spec that restores the complete qmonexec image at ``path``.

    ``source`` is the path written into the string (default ``path``).
    ``decompress`` is needed only for an image saved with a custom
    compressor: qmonexec never runs a program named by a file.
    """
    raw = os.fspath(path)
    shown = repr(os.fsdecode(raw))
    try:
        header = read_header(raw)  # complete, not truncated: else ImageError
    except ForeignFormatError:
        raise ForeignFormatError(
            f"{shown} is not a qmonexec image (it has no qmonexec header), so --from-image "
            "cannot read its offset; for an image with a header of your own, give its offset and "
            "compression instead (qmonexec uri restore SOURCE --offset N --compress NAME, or "
            "RestoreSpec(source, offset=N, compression=...))", path=raw) from None
    smallest = BLOCK_SIZE_RANGE[0]
    if header.offset % smallest:
        raise ImageError(
            f"{shown} has its stream at byte {header.offset}, not a multiple of {smallest}: "
            "dd cannot skip to it in whole blocks, so no exec: string restores it", path=raw)
    comp = _compression(header.compression, header.decompress, decompress, shown)
    return RestoreSpec(source=raw if source is None else source, offset=header.offset,
                       compression=comp, block_size=block_size, profile=profile)  # type: ignore[arg-type]


def _compression(name: str, recorded: tuple[str, ...] | None, given: Compression | None,
                 shown: str) -> Compression | None:
    if recorded is not None:  # a custom compressor: the file names it, the user must choose
        if given is None:
            raise InputError(
                f"{shown} was compressed with the custom program {name!r}; qmonexec never "
                "runs a program named by a file: give the decompressor with --decompress-cmd "
                f"(decompress= in restore_spec_from_image; recorded: {' '.join(recorded)})")
        return given
    if given is not None:
        raise InputError(f"{shown} records its compression ({name}); drop --decompress-cmd "
                         "(decompress= in restore_spec_from_image)")
    return compression(name)
