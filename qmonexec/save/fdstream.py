"""The ``fd`` and ``file`` transports: QEMU gets an open file (or a pipe) instead of a shell.

Save (:func:`open_outgoing`): raw, QEMU receives the target itself, reopened
write-only and positioned at the offset (``getfd`` + ``fd:NAME``), or put in
an fdset (``add-fd`` + ``file:/dev/fdset/ID,offset=N``); compressed, qmonexec
starts the compressor from its argv (no shell) with the target at the offset
as its stdout and a pipe as its stdin, and QEMU writes into the pipe's other
end.  Restore (:func:`open_incoming`) mirrors each: the image read-only at the
offset, or a decompressor feeding a pipe.

The compressor's success is its own exit status, read with ``waitpid``
(:meth:`Stream.finish`); its stderr goes to a private file that the error
message quotes.  The image's path never travels in a QMP message, so it may
hold any bytes.
"""

from __future__ import annotations

__all__ = [
    "Stream",
    "StreamPipeline",
    "open_incoming",
    "open_outgoing",
    "reset_layout",
    "save_failure",
    "set_layout",
]

import contextlib
import fcntl
import os
import secrets
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..qmp.fdpass import add_fd, add_to_fdset, close_fd, get_fd, remove_fd
from ..vocabulary import COMPRESS, WRITE
from .errors import RestoreError, SaveError
from .target import parent_dir, show
from .waits import Pipeline

if TYPE_CHECKING:
    from ..qmp import QMPClient
    from .transport import Choice

#: Longest wait for the compressor to exit once QEMU is done, when the caller set no limit.
_CHILD_WAIT = 3600.0
#: After a cancel, how long the child gets before SIGKILL.
_KILL_WAIT = 5.0


@dataclass
class Stream:
    """One stream handed to QEMU: the URI to send and what to clean up afterwards.

    ``child``: the compressor or decompressor qmonexec started (``None`` for
    raw); ``argv`` its words; ``err`` the file holding its stderr.
    """

    uri: str
    transport: str
    child: subprocess.Popen[bytes] | None = None
    argv: tuple[str, ...] = ()
    err: str | None = None
    fd_name: str | None = None
    fdset: int | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)
    #: multifd channels of the mapped-ram layout (``None``: QEMU's default).
    channels: int | None = None

    def child_failed(self) -> str | None:
        """The child's failure (exit status and stderr), if it has already exited non-zero."""
        if self.child is None or self.child.poll() is None or self.child.returncode == 0:
            return None
        return self._describe(self.child.returncode)

    def failed_on_its_own(self) -> str | None:
        """:meth:`child_failed`, except a death by SIGPIPE: then its reader (QEMU) stopped
        reading first, and QEMU's own failure is the one to report."""
        failure = self.child_failed()
        if self.child is not None and self.child.returncode == -signal.SIGPIPE:
            return None
        return failure

    def _describe(self, status: int) -> str:
        how = (f"was killed by signal {signal.Signals(-status).name}" if status < 0
               else f"exited with status {status}")
        text = self.stderr_text()
        return f"{' '.join(self.argv)} {how}" + (f": {text}" if text else
                                                   " and left no error text")

    def stderr_text(self) -> str:
        """What the child wrote to stderr (trimmed)."""
        if self.err is None:
            return ""
        try:
            with open(self.err, "rb") as handle:
                return handle.read(4096).decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def finish(self, deadline: float | None) -> str | None:
        """Wait for the child to exit; its failure (``None``: exit status 0, or no child)."""
        if self.child is None:
            return None
        wait = _CHILD_WAIT if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            status = self.child.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return f"{' '.join(self.argv)} did not exit within the time limit"
        return None if status == 0 else self._describe(status)

    def close(self, client: QMPClient | None) -> None:
        """Stop a child still running, drop what QEMU may still hold, remove the stderr file."""
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGTERM)
            try:
                self.child.wait(timeout=_KILL_WAIT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait()
        if client is not None and client.connected:
            if self.fd_name is not None:
                close_fd(client, self.fd_name)
            if self.fdset is not None:
                remove_fd(client, self.fdset)
        if self.err is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.err)


def _reopen(fd: int, flags: int, offset: int) -> int:
    """A new descriptor of the file behind ``fd`` (its own offset and access mode) at ``offset``."""
    new = os.open(f"/proc/self/fd/{fd}", flags | os.O_CLOEXEC)
    os.lseek(new, offset, os.SEEK_SET)
    return new


def _name() -> str:
    return f"qmonexec-{os.getpid()}-{secrets.token_hex(4)}"


def _start_child(argv: tuple[str, ...], stdin: int, stdout: int) -> tuple[
        subprocess.Popen[bytes], str]:
    err_fd, err_path = tempfile.mkstemp(prefix="qmonexec-", suffix=".err")
    try:
        # Own session: a Ctrl-C on the terminal reaches qmonexec, which cancels in order,
        # rather than killing the compressor under QEMU's feet.
        child = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err_fd,
                                 close_fds=True, start_new_session=True)
    except OSError:
        os.unlink(err_path)
        raise
    finally:
        os.close(err_fd)
    return child, err_path


def _file_uri(client: QMPClient, fd: int, stream: Stream, offset: int,
              direct_io: bool = False) -> str:
    """Put ``fd`` (and with ``direct_io`` an O_DIRECT twin) in a new fdset; the file: URI.

    Raises :class:`_NoDirectIO` when the file system refuses O_DIRECT.
    """
    direct = -1
    if direct_io:
        # The multifd channels ask for O_DIRECT, the main channel does not: QEMU picks the
        # descriptor of the set whose flags match, so the set holds one of each.
        flags = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        try:
            direct = os.open(f"/proc/self/fd/{fd}", flags | os.O_DIRECT | os.O_CLOEXEC)
        except OSError as exc:
            raise _NoDirectIO(f"the image's file system refuses O_DIRECT ({exc.strerror}): "
                              "leave out --direct-io") from None
    try:
        stream.fdset = add_fd(client, fd, "qmonexec image")
        if direct_io:
            add_to_fdset(client, direct, stream.fdset, "qmonexec image, O_DIRECT")
    finally:
        if direct >= 0:
            os.close(direct)
    return f"file:/dev/fdset/{stream.fdset},offset={offset}"


class _NoDirectIO(Exception):
    """The image cannot be opened with O_DIRECT (the message says so and how to go on)."""


def set_layout(client: QMPClient, capabilities: dict[str, bool],
               choice: Choice) -> dict[str, bool]:
    """Switch on the capabilities (and channels) of the mapped-ram layout; return the old ones."""
    before = client.get_capabilities()
    previous = {name: bool(before.get(name, False)) for name in capabilities}
    client.set_capabilities(capabilities)
    parameters: dict[str, object] = {}
    if choice.parallel is not None:
        parameters["multifd-channels"] = choice.parallel
    if choice.direct_io:
        parameters["direct-io"] = True
    if parameters:
        client.set_parameters(parameters)
    return previous


def reset_layout(client: QMPClient, previous: dict[str, bool]) -> None:
    """Put the capabilities :func:`set_layout` changed back; never raises."""
    from ..qmp import QMPError

    with contextlib.suppress(QMPError, OSError):
        client.set_capabilities(previous)


def _layout(choice: Choice) -> dict[str, bool]:
    if choice.parallel is None:
        return {}
    return {"mapped-ram": True, "multifd": True}


def _give_fd(client: QMPClient, stream: Stream, fd: int, program: tuple[str, ...] | None, *,
             outgoing: bool) -> None:
    """``fd:NAME`` for QEMU: the file ``fd`` itself, or the end of a pipe whose other end
    ``program`` uses (it writes ``fd`` on the way out, reads it on the way in)."""
    stream.fd_name = _name()
    if program is None:
        get_fd(client, fd, stream.fd_name)
    else:
        read_end, write_end = os.pipe()
        try:
            child_in, child_out, qemu_end = ((read_end, fd, write_end) if outgoing
                                             else (fd, write_end, read_end))
            stream.child, stream.err = _start_child(program, child_in, child_out)
            stream.argv = program
            get_fd(client, qemu_end, stream.fd_name)
        finally:
            os.close(read_end)
            os.close(write_end)
    stream.uri = f"fd:{stream.fd_name}"


def open_outgoing(client: QMPClient, choice: Choice, target_fd: int, offset: int,
                  compress: tuple[str, ...] | None) -> Stream:
    """Hand QEMU the way to the target (``target_fd``, already holding the header)."""
    stream = Stream(uri="", transport=choice.transport, capabilities=_layout(choice))
    out = _reopen(target_fd, os.O_WRONLY, offset)
    try:
        if choice.transport == "file":
            try:
                stream.uri = _file_uri(client, out, stream, offset, choice.direct_io)
            except _NoDirectIO as exc:
                raise SaveError("target", str(exc)) from None
            return stream
        _give_fd(client, stream, out, compress, outgoing=True)
        return stream
    except BaseException:
        stream.close(client)
        raise
    finally:
        os.close(out)


def open_incoming(client: QMPClient, choice: Choice, source: str | bytes, offset: int,
                  decompress: tuple[str, ...] | None, mapped_ram: bool) -> Stream:
    """Hand the destination QEMU the image (``source``) or a decompressor's pipe."""
    stream = Stream(uri="", transport=choice.transport)
    if mapped_ram:
        stream.capabilities = {"mapped-ram": True, "multifd": True}
        stream.channels = choice.parallel
    image = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.lseek(image, offset, os.SEEK_SET)
        if choice.transport == "file":
            try:
                stream.uri = _file_uri(client, image, stream, offset, choice.direct_io)
            except _NoDirectIO as exc:
                raise RestoreError("image", str(exc)) from None
            return stream
        _give_fd(client, stream, image, decompress, outgoing=False)
        return stream
    except BaseException:
        stream.close(client)
        raise
    finally:
        os.close(image)


#: Phrases of errno texts that mean the file could not be written (full disk, quota, size).
_WRITE_ERRORS = ("No space left", "File too large", "Disk quota exceeded", "Input/output error",
                 "Read-only file system")


def save_failure(stream: Stream, exc: SaveError, target: str | bytes) -> SaveError:
    """The error to report for a failed fd/file save: the compressor's, QEMU's write, or ``exc``.

    A compressor that failed is the cause (QEMU then only saw a broken pipe);
    one that could not write the target is named ``write``.  With a raw
    stream QEMU writes the file itself, so its write error is the ``write`` stage.
    """
    failure = stream.child_failed()
    full = _full(target)
    if failure is None and stream.child is not None and exc.stage == "qemu":
        # QEMU saw the pipe break: give the compressor a moment to exit and say why.
        with contextlib.suppress(subprocess.TimeoutExpired):
            stream.child.wait(timeout=_KILL_WAIT)
        failure = stream.child_failed()
    if failure is not None:
        stage = WRITE if any(text in failure for text in _WRITE_ERRORS) else COMPRESS
        what = ("the compressor could not write the image" if stage == WRITE
                else "the compressor failed")
        return SaveError(stage, f"{what}: {failure}{full}", detail=stream.stderr_text(),
                         target=target)
    message = str(exc.args[0]).split(": ", 1)[-1] if exc.args else ""
    if stream.child is None and exc.stage == "qemu" and any(t in message for t in _WRITE_ERRORS):
        return SaveError(WRITE, f"QEMU could not write the image itself: {message}{full}",
                         target=target)
    return exc


def _full(target: str | bytes) -> str:
    """`` (the file system holding T is full)`` when it is, else an empty string."""
    with contextlib.suppress(OSError):
        if os.statvfs(parent_dir(target)).f_bavail == 0:
            return f" (the file system holding {show(target)} is full)"
    return ""


@dataclass(frozen=True)
class StreamPipeline(Pipeline):
    """The waits' view of an fd/file save: no stage markers, but perhaps a compressor child."""

    stream: Stream | None = None

    def fail_if_a_stage_failed(self) -> None:
        """Raise when the compressor has already exited non-zero (QEMU may not know yet)."""
        if self.stream is not None and self.stream.child_failed() is not None:
            raise save_failure(self.stream, SaveError(COMPRESS, ""), self.target)
