"""The progress line ``qmonexec save`` and ``restore`` draw on a terminal."""

from __future__ import annotations

__all__ = ["ProgressDisplay", "bytes_text", "display", "progress_line"]

import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from ..vocabulary import STATUS_COMPLETED

if TYPE_CHECKING:
    from ..save import Progress


def bytes_text(count: float | None) -> str:
    """``count`` bytes for people: ``512 B``, ``1.5 MiB``; ``?`` when unknown."""
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(report: Progress) -> str:
    """One line describing ``report`` (what the TTY display shows)."""
    if report.phase == "flush":
        return (f"saved {bytes_text(report.total)} of RAM; waiting for the pipeline to finish "
                f"writing ({bytes_text(report.on_disk)} on disk)  {_duration(report.elapsed)}")
    verb = "saving" if report.phase == "migrate" else "restoring"
    parts = [f"{verb} [{'starting' if report.status == 'none' else report.status}]"]
    if report.done is not None and report.total:
        percent = 100.0 * report.done / report.total
        parts.append(f"{bytes_text(report.done)} / {bytes_text(report.total)} ({percent:3.0f}%)")
    elif report.total:
        parts.append(f"image {bytes_text(report.total)}")
    if report.sent is not None:
        parts.append(f"sent {bytes_text(report.sent)}")
    if report.rate is not None:
        parts.append(f"{bytes_text(report.rate)}/s")
    if report.eta is not None and report.status != STATUS_COMPLETED:
        parts.append(f"ETA {_duration(report.eta)}")
    parts.append(f"elapsed {_duration(report.elapsed)}")
    return "  ".join(parts)


class ProgressDisplay:
    """Redraws one status line on a terminal (``\\r`` + clear to end of line), at most 5 Hz."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self.last = 0.0
        self.state: tuple[str, str] = ("", "")

    def __call__(self, report: Progress) -> None:
        now = time.monotonic()
        state = (report.phase, report.status)
        if now - self.last < 0.2 and self.shown and state == self.state:
            return
        self.last, self.state = now, state
        width = 0
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        line = progress_line(report)
        if width > 1:
            line = line[: width - 1]
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the status line so that what follows starts on a new line."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def display(quiet: bool) -> ProgressDisplay | None:
    """The status line on standard error when it is a terminal and ``quiet`` is off."""
    if quiet or not sys.stderr.isatty():
        return None
    return ProgressDisplay(sys.stderr)
