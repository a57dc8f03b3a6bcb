"""The one exception hierarchy of qmonexec.

Every error qmonexec raises on purpose derives from :class:`QmonexecError`.
Each class carries the exit status the command-line tool uses for it, so the
CLI never has to guess: 1 for "the command ran and the answer is no" (unsafe
string, QEMU error), 2 for bad input, 3 for connection or protocol trouble.
"""

from __future__ import annotations

__all__ = ["InputError", "QmonexecError", "UnsafeCommandError"]

from typing import Any


class QmonexecError(Exception):
    """Base class of every error raised by qmonexec."""

    exit_code: int = 1


class InputError(QmonexecError, ValueError):
    """A value given to qmonexec is unusable; the message says what and how to fix it.

    ``position`` is the offending offset inside ``value`` when one is known.
    """

    exit_code = 2

    def __init__(self, message: str, *, value: object = None, position: int | None = None) -> None:
        super().__init__(message)
        self.value = value
        self.position = position


class UnsafeCommandError(QmonexecError):
    """A shell string did not pass the validator; ``verdict`` holds the findings."""

    exit_code = 1

    def __init__(self, message: str, *, verdict: Any = None) -> None:
        super().__init__(message)
        self.verdict = verdict
