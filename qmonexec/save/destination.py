"""The destination of a restore: does it match the image, and why did it refuse the stream?

:func:`check_matches` compares the destination's machine type and RAM size
with what the header records about the source (version 2 headers) and
raises :class:`MismatchError` on a difference, before QEMU is asked to load
anything: QEMU 7.2 would exit half-way with the reason only on its stderr.
:class:`StderrTail` keeps QEMU's stderr open (``/proc/PID/fd/2``, when it is a
regular file) so that the last lines it wrote while loading can be quoted
after it exits.
"""

from __future__ import annotations

__all__ = ["MismatchError", "StderrTail", "check_matches"]

import contextlib
import os
import stat
from typing import TYPE_CHECKING, Any

from .errors import VMStateError
from .source import machine_type, peer_qemu_pid, ram_size

if TYPE_CHECKING:
    from ..qmp import QMPClient

#: How many of QEMU's last stderr lines a failed restore quotes.
TAIL_LINES = 8
_TAIL_BYTES = 64 << 10


class MismatchError(VMStateError):
    """The destination differs from the saved source (``differences``: what, saved, found).

    The message ends with the library's way out (``force=True``); ``reason``
    is the message without it, for front ends that name their own option.
    """

    def __init__(self, reason: str, differences: list[tuple[str, Any, Any]]) -> None:
        super().__init__(f"{reason}; to load anyway, call restore(..., force=True)",
                         status="inmigrate")
        self.reason = reason
        self.differences = differences


def _mib(value: int) -> str:
    return f"{value // (1 << 20)}M" if value % (1 << 20) == 0 else str(value)


def check_matches(client: QMPClient, source: dict[str, Any] | None) -> None:
    """Raise :class:`MismatchError` when the destination's machine type or RAM size is not
    the recorded source's (a header without them checks nothing)."""
    if not isinstance(source, dict):
        return
    differences: list[tuple[str, Any, Any]] = []
    fixes: list[str] = []
    saved_machine = source.get("machine")
    if isinstance(saved_machine, str):
        found = machine_type(client)
        if found is not None and found != saved_machine:
            differences.append(("machine type", saved_machine, found))
            fixes.append(f"-machine {saved_machine}")
    saved_ram = source.get("ram_size")
    if isinstance(saved_ram, int):
        found_ram = ram_size(client)
        if found_ram is not None and found_ram != saved_ram:
            differences.append(("RAM size", saved_ram, found_ram))
            fixes.append(f"-m {_mib(saved_ram)}")
    if not differences:
        return
    what = "; ".join(f"the image was saved with {name} {saved!r} but the destination has "
                     f"{found!r}" for name, saved, found in differences)
    raise MismatchError(f"{what}: QEMU would refuse the stream; start the destination with "
                        f"{' '.join(fixes)} (as the source had)", differences)


class StderrTail:
    """QEMU's stderr, opened before a load, so its last lines can be read after a failure."""

    def __init__(self, client: QMPClient) -> None:
        self.fd: int | None = None
        self.start = 0
        pid = peer_qemu_pid(client)
        if pid is None:
            return
        with contextlib.suppress(OSError):
            fd = os.open(f"/proc/{pid}/fd/2", os.O_RDONLY | os.O_CLOEXEC)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(fd)
                return
            self.fd, self.start = fd, info.st_size

    def lines(self) -> list[str]:
        """The last lines QEMU wrote to stderr since this was opened (empty if unknown)."""
        if self.fd is None:
            return []
        try:
            end = os.fstat(self.fd).st_size
            begin = max(self.start, end - _TAIL_BYTES)
            data = os.pread(self.fd, end - begin, begin)
        except OSError:
            return []
        text = data.decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.strip()][-TAIL_LINES:]

    def close(self) -> None:
        """Close the stderr file (safe to call more than once)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
