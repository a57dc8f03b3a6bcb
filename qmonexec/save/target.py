"""The file a save writes or a restore reads: checks on it, and the name QEMU is given for it.

:func:`check_target` refuses a save target before anything is written;
:func:`private_dir` makes the private directory (stage status, aliases) next
to the file; :func:`alias` gives a file whose name is not plain ASCII a plain
name in that directory; :func:`show` prints a path in messages.
"""

from __future__ import annotations

__all__ = [
    "access_reason",
    "alias",
    "check_target",
    "is_plain",
    "parent_dir",
    "private_dir",
    "show",
]

import contextlib
import os
import stat
import tempfile

from ..errors import InputError
from .errors import SaveError


def show(path: str | bytes) -> str:
    """``path`` as it appears in messages: the repr of its decoded text."""
    return repr(os.fsdecode(path))


def parent_dir(path: str | bytes) -> str | bytes:
    """The directory holding ``path``, as the same type (``/`` for a bare name)."""
    return os.path.dirname(path) or (b"/" if isinstance(path, bytes) else "/")


def is_plain(path: str | bytes) -> bool:
    """Whether ``path`` is printable ASCII only (what the default validator policy accepts)."""
    data = os.fsencode(path)
    return all(0x20 <= byte < 0x7F for byte in data)


def private_dir(parent: str | bytes) -> str | bytes:
    """A new directory only we can use, inside ``parent``."""
    if isinstance(parent, bytes):
        return tempfile.mkdtemp(prefix=b".qmonexec-", dir=parent)
    return tempfile.mkdtemp(prefix=".qmonexec-", dir=parent)


def alias(work_dir: str | bytes, path: str | bytes) -> str | bytes:
    """``path`` itself when its name is plain ASCII, else a symlink to it in ``work_dir``.

    The validator refuses newlines, other control characters and non-ASCII
    text inside a command (invisible in review; yash in the C locale runs
    nothing), and QMP cannot carry bytes that are not UTF-8.  A symlink with a
    plain name in our private directory lets such a file be saved or restored
    with a command string that stays reviewable.  The directory holding the
    file must have a plain name itself (the private directory lives there).
    """
    if is_plain(os.path.basename(path)):
        return path
    link = os.path.join(os.fsencode(work_dir), b"image")
    os.symlink(os.fsencode(path), link)
    return link if isinstance(path, bytes) else os.fsdecode(link)


def check_target(target: str | bytes, qmp_socket: str | None) -> None:
    """Refuse a save target that cannot or must not be written.

    :class:`~qmonexec.errors.InputError` for a missing directory, a directory,
    the QMP socket itself or a file that is not a regular one;
    :class:`~qmonexec.save.SaveError` (stage ``target``) when it cannot be
    inspected or written.
    """
    parent = parent_dir(target)
    if not os.path.isdir(parent):
        raise InputError(f"the directory of the target, {show(parent)}, does not exist",
                         value=target)
    if os.path.isdir(target):
        raise InputError(f"the target {show(target)} is a directory; give a file name inside it",
                         value=target)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise SaveError("target", f"cannot inspect {show(target)}: {exc.strerror}",
                        target=target) from None
    if qmp_socket is not None:
        same = os.path.abspath(os.fsdecode(target)) == os.path.abspath(qmp_socket)
        with contextlib.suppress(OSError):
            sock = os.stat(qmp_socket)
            same = same or (info is not None and (info.st_dev, info.st_ino)
                            == (sock.st_dev, sock.st_ino))
        if same:
            raise InputError(f"the target {show(target)} is the QMP socket; choose another file",
                             value=target)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(f"the target {show(target)} exists and is not a regular file "
                         "(a socket, device or pipe); choose another file", value=target)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SaveError("target", f"the directory {show(parent)} is not writable "
                        f"({access_reason(parent)})", target=target)
    if info is not None and not os.access(target, os.W_OK):
        raise SaveError("target", f"the existing file {show(target)} is not writable "
                        f"({access_reason(target)})", target=target)


def access_reason(path: str | bytes) -> str:
    """Why ``path`` is not writable: a read-only file system, or permissions."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError as exc:
        return exc.strerror or str(exc)
    return "permission denied"
