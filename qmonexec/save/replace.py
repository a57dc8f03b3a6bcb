"""Write a save beside its target and put it in place only once it is proven.

``qmonexec save`` never writes into the target itself: :func:`temp_beside`
creates a new file next to it (same directory, so same file system and an
atomic ``rename``), the save fills and proves that file, and :func:`commit`
renames it over the target and fsyncs the directory.  Until then an older
image at the target is untouched and restorable; a failed save removes the
temporary file (:func:`discard`) or, when asked, keeps it for inspection.
"""

from __future__ import annotations

__all__ = ["PARTIAL_PREFIX", "commit", "discard", "final_path", "temp_beside"]

import contextlib
import os
import stat
import tempfile

from .target import parent_dir

#: How the temporary file's name starts (a plain name: QEMU's command can hold it as is).
PARTIAL_PREFIX = ".qmonexec-partial-"


def final_path(target: str | bytes) -> str | bytes:
    """Where the image ends up: ``target``, or the file a symlink at ``target`` points to."""
    if os.path.islink(target):
        return os.path.realpath(target)
    return target


def temp_beside(target: str | bytes) -> tuple[int, str | bytes]:
    """Create an empty temporary file next to ``target``; return its fd and path.

    The file gets the mode of an existing target (else 0600), so the rename
    does not change who may read the image.
    """
    directory = parent_dir(target)
    if isinstance(directory, bytes):
        fd, path_b = tempfile.mkstemp(prefix=os.fsencode(PARTIAL_PREFIX), dir=directory)
        path: str | bytes = path_b
    else:
        fd, path = tempfile.mkstemp(prefix=PARTIAL_PREFIX, dir=directory)
    with contextlib.suppress(OSError):
        os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode))
    return fd, path


def commit(temp: str | bytes, target: str | bytes) -> None:
    """Rename the proven ``temp`` over ``target`` and fsync the directory (the rename's
    durability)."""
    os.rename(temp, target)
    dir_fd = os.open(parent_dir(target), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def discard(temp: str | bytes) -> None:
    """Remove the temporary file of a failed save (already gone is fine)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
