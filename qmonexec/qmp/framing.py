"""QMP framing: turn a stream of received bytes into complete messages.

QEMU writes one JSON object per line (ending in CRLF) and JSON strings cannot
hold a raw newline, so a newline always ends a message.  :class:`FrameBuffer`
collects bytes, however the peer split them into writes (one byte at a time,
or several messages in one write), and hands out whole lines.  A line that
grows beyond ``max_size`` without a newline raises :class:`ProtocolError`, so a
hostile or broken peer cannot make the client buffer without bound.
"""

from __future__ import annotations

__all__ = ["FrameBuffer"]

from ..limits import QMP_MAX_MESSAGE
from .errors import ProtocolError


class FrameBuffer:
    """Split a byte stream into newline-terminated messages.

    Each incoming byte is scanned once, so a 10 MiB message arriving in 64 KiB
    pieces costs linear time.  Blank lines (between messages) are skipped and a
    trailing ``\\r`` is removed.
    """

    def __init__(self, max_size: int = QMP_MAX_MESSAGE) -> None:
        if max_size < 1:
            raise ValueError("max_size must be positive")
        self.max_size = max_size
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer known to hold no newline

    @property
    def pending(self) -> int:
        """Number of buffered bytes of a message that is not complete yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete messages they finish, in order.

        Raises :class:`ProtocolError` when an unfinished message exceeds
        ``max_size``; the buffer is then discarded and the stream cannot be
        resynchronised reliably, so the caller should close the connection.
        """
        self._buffer += data
        lines: list[bytes] = []
        start = 0
        while True:
            end = self._buffer.find(b"\n", max(start, self._scanned))
            if end < 0:
                break
            line = bytes(self._buffer[start:end])
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_size:
                self._reset()
                raise ProtocolError(
                    f"received a message of {len(line)} bytes; the limit is {self.max_size} bytes"
                )
            if line.strip():
                lines.append(line)
            start = end + 1
        if start:
            del self._buffer[:start]
        self._scanned = len(self._buffer)
        if len(self._buffer) > self.max_size:
            size = len(self._buffer)
            self._reset()
            raise ProtocolError(
                f"received {size} bytes without the end of a message; "
                f"the limit is {self.max_size} bytes"
            )
        return lines

    def _reset(self) -> None:
        self._buffer.clear()
        self._scanned = 0
