"""Progress of a save or restore: the :class:`Progress` value and the :class:`Meter` making it.

:class:`Progress` is re-exported by :mod:`qmonexec.save`; the command line
turns it into a status line (``qmonexec.cli.save.progress_line``).
"""

from __future__ import annotations

__all__ = ["Meter", "Progress"]

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report.

    ``phase``: ``"migrate"`` (QEMU is sending), ``"flush"`` (QEMU is done, the
    pipeline is still writing), ``"restore"``.  ``done``/``total``: bytes of
    guest RAM processed / in all (for a restore: bytes of the image read / its
    size), ``sent``: bytes QEMU put into the stream, ``rate``: stream bytes per
    second lately (restore: image bytes read per second), ``eta``: seconds
    left, estimated; each ``None`` when unknown.
    ``on_disk``: bytes of stream in the file so far (save only).
    """

    phase: str
    status: str
    elapsed: float
    done: int | None = None
    total: int | None = None
    sent: int | None = None
    rate: float | None = None
    eta: float | None = None
    on_disk: int | None = None


class Meter:
    """Turns successive statuses into :class:`Progress` with a rate and an ETA.

    The rate is what QEMU puts into the stream per second over the last few
    seconds (what ``max-bandwidth`` limits).  The ETA divides the RAM still
    to go by the average pace since the start: zero pages cost QEMU almost
    nothing, so a short window over a stretch of real data would predict
    far too long a wait for a mostly empty guest.
    """

    def __init__(self, phase: str, callback: Callable[[Progress], None] | None) -> None:
        self.phase = phase
        self.callback = callback
        self.start = time.monotonic()
        self.window: list[tuple[float, int]] = []

    def report(self, status: str, done: int | None, total: int | None, *,
               sent: int | None = None, on_disk: int | None = None,
               phase: str | None = None) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        rate = eta = None
        flow = sent if sent is not None else done
        if flow is not None:
            self.window.append((now, flow))
            while len(self.window) > 2 and now - self.window[0][0] > 3.0:
                self.window.pop(0)
            t0, f0 = self.window[0]
            if now - t0 > 0.05 and flow >= f0:
                rate = (flow - f0) / (now - t0)
        if done is not None and total is not None and now - self.start > 0.05 and done > 0:
            eta = max(0.0, (total - done) * (now - self.start) / done)
        self.callback(Progress(phase or self.phase, status, now - self.start, done, total,
                               sent, rate, eta, on_disk))
