"""Review a list file: one string per line (blank lines and ``#`` lines skipped).

Each line is checked as written (``form="auto"``: a shell string, an
``exec:`` URI, a QMP command or an HMP line).  A ``#`` inside a line is part
of the string; a line that starts with ``#`` is a comment and may hold a
suppression for the line after it.
"""

from __future__ import annotations

__all__ = ["review_list"]

from ..shell import Policy, check
from .model import ReviewFinding, SourceMap, findings_from


def review_list(name: str, text: str, policy: Policy) -> list[ReviewFinding]:
    """Check every string line of ``text`` (the contents of file ``name``)."""
    out: list[ReviewFinding] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t") or line.lstrip(" \t").startswith("#"):
            continue
        points = [(number, column) for column in range(1, len(line) + 1)]
        out += findings_from(check(line, policy), SourceMap(name, points))
    return out
