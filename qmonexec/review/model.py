"""The review's record of one finding, and mapping checked text back to a file.

:class:`ReviewFinding` is what every input reader produces and every output
format prints: the file, 1-based line and column (in characters) of the
start and of the end, the code with its class and severity, the message and
the catalogue's advice.  :class:`SourceMap` turns an offset into the text
that was checked into a position in the file, and :func:`findings_from`
turns a validator :class:`~qmonexec.shell.Verdict` into review findings.
"""

from __future__ import annotations

__all__ = [
    "Hole", "LineIndex", "ReviewFinding", "SourceMap", "findings_from",
    "make_finding",
]

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from ..shell.verdict import Verdict
from .catalogue import FindingClass, class_of, entry, severity_of


@dataclass(frozen=True, slots=True)
class ReviewFinding:
    """One finding in one file (positions 1-based, columns in characters)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    cls: FindingClass
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: file, line, column, end, code, class, severity, message, fix."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end": {"line": self.end_line, "column": self.end_column},
            "code": self.code,
            "class": self.cls.value,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


def make_finding(
    file: str,
    start: tuple[int, int],
    end: tuple[int, int],
    code: str,
    message: str,
    severity: str | None = None,
) -> ReviewFinding:
    """A finding of ``code`` with its class, default severity and the catalogue's advice."""
    return ReviewFinding(
        file, start[0], start[1], end[0], end[1], code, class_of(code),
        severity or severity_of(code).value, message, entry(code).advice,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hole:
    """Characters ``[start, end)`` of the checked text that stand for an interpolated value."""

    start: int
    end: int


@dataclass
class SourceMap:
    """Where each character of a checked text came from in its file.

    ``points[i]`` is the (line, column) of character ``i``; offsets at or
    past the end map just after the last character.  ``holes`` are
    placeholders for interpolated values: findings inside them are dropped
    (the value is reported, or quoted by construction).
    """

    file: str
    points: list[tuple[int, int]]
    holes: list[Hole] = field(default_factory=list)

    def at(self, offset: int) -> tuple[int, int]:
        """The file position of ``offset`` in the checked text."""
        if not self.points:
            return (1, 1)
        if offset < len(self.points):
            return self.points[max(offset, 0)]
        line, column = self.points[-1]
        return (line, column + 1)

    def in_hole(self, offset: int, length: int) -> bool:
        """Whether ``[offset, offset+length)`` lies inside one placeholder."""
        return any(h.start <= offset and offset + length <= h.end for h in self.holes)


def findings_from(verdict: Verdict, where: SourceMap) -> list[ReviewFinding]:
    """The verdict's findings, placed in the file (those inside placeholders left out)."""
    out: list[ReviewFinding] = []
    for f in verdict.findings:
        offset = f.position.offset
        if where.in_hole(offset, f.length):
            continue
        start = where.at(offset)
        end = max(start, where.at(offset + f.length - 1))  # text from two places: never before
        out.append(
            ReviewFinding(
                where.file, *start, *end,
                f.code.value, class_of(f.code), f.severity.value, f.message,
                entry(f.code).advice,
            )
        )  # fmt: skip
    return out


class LineIndex:
    """Offsets of a file's text to (line, column), by bisecting the line starts."""

    __slots__ = ("starts",)

    def __init__(self, text: str) -> None:
        self.starts = [0]
        pos = text.find("\n")
        while pos >= 0:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def at(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of ``offset``."""
        k = bisect_right(self.starts, offset) - 1
        return (k + 1, offset - self.starts[k] + 1)
