"""One save per VM and per target at a time: lock files taken before connecting.

QEMU serves one client per monitor socket, so a second ``qmonexec save`` of
the same VM would wait for the socket until its greeting timed out, and two
saves into one target would race for the rename.  :func:`save_locks` takes
an exclusive ``flock`` on one file keyed by the target (its directory's
device and inode plus its name) and one keyed by the QMP socket's device and
inode, without waiting: a second save fails at once, naming the PID and
target the first one wrote into the lock file.  The kernel drops a ``flock``
when its holder exits, so a killed save leaves no stale lock.  The files live
in a private per-user directory under the system's temporary directory and
are never removed (removing them would race with a new holder).
"""

from __future__ import annotations

__all__ = ["LockBusy", "lock_dir", "save_locks"]

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator

from .target import parent_dir


class LockBusy(Exception):
    """Another process holds the lock; ``holder`` is what it recorded (``pid``, ``target``)."""

    def __init__(self, what: str, holder: dict[str, object]) -> None:
        super().__init__(what)
        self.what = what
        self.holder = holder


def lock_dir() -> str:
    """The private directory of this user's lock files (created 0700, checked to be ours)."""
    path = os.path.join(tempfile.gettempdir(), f"qmonexec-locks-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{path} is not a directory of user {os.getuid()}")
    return path


def _target_key(target: str | bytes) -> str:
    directory = os.stat(parent_dir(target))
    name = os.fsencode(os.path.basename(target))
    digest = hashlib.sha256(name).hexdigest()[:32]
    return f"target-{directory.st_dev}-{directory.st_ino}-{digest}.lock"


def _socket_key(qmp_socket: str) -> str | None:
    try:
        info = os.stat(qmp_socket)
    except OSError:
        return None
    return f"qmp-{info.st_dev}-{info.st_ino}.lock"


def _take(path: str, what: str, record: dict[str, object]) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
        except ValueError:
            holder = {}
        os.close(fd)
        raise LockBusy(what, holder if isinstance(holder, dict) else {}) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return fd


@contextlib.contextmanager
def save_locks(target: str | bytes, qmp_socket: str | None) -> Iterator[None]:
    """Hold the target's and the QMP socket's locks; raise :class:`LockBusy` at once if taken."""
    directory = lock_dir()
    record: dict[str, object] = {"pid": os.getpid(), "target": os.fsdecode(target),
                                 "qmp": qmp_socket}
    keys = [(_target_key(target), "target")]
    socket_key = _socket_key(qmp_socket) if qmp_socket is not None else None
    if socket_key is not None:
        keys.append((socket_key, "qmp"))
    fds: list[int] = []
    try:
        for key, what in keys:
            fds.append(_take(os.path.join(directory, key), what, record))
        yield
    finally:
        for fd in fds:
            os.close(fd)
