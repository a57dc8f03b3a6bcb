"""Suppression comments: ``# qmonexec: ignore[code, ...] reason``.

In Python and shell files a suppression applies to findings on its own line
and on the line after it; in list files (where a ``#`` inside a string line
is part of the string) only a comment line suppresses, for the line after
it.  A suppression needs a reason after the brackets; without one it
suppresses nothing and is reported (``suppression-without-reason``).  Each
listed code that suppresses nothing is reported (``unused-suppression``),
and so is an ``unproven`` code: those cannot be suppressed.  Suppressions
change what the review reports, never a verdict of the validator.
"""

from __future__ import annotations

__all__ = ["Suppression", "apply", "find"]

import io
import re
import tokenize
from dataclasses import dataclass

from .catalogue import FAILING_ALWAYS, ReviewCode, all_codes, class_of
from .model import ReviewFinding, make_finding

_PATTERN = re.compile(r"#\s*qmonexec:\s*ignore\[(?P<codes>[^\]]*)\](?P<reason>[^\n]*)")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One suppression comment: where it is, the lines it covers, its codes and reason."""

    line: int
    column: int
    lines: tuple[int, ...]
    codes: tuple[str, ...]
    reason: str


def _python_comments(text: str) -> set[tuple[int, int]] | None:
    """(line, 0-based column) of every comment of Python source, or ``None`` if it cannot tell."""
    try:
        return {
            tok.start for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        }  # fmt: skip
    except (tokenize.TokenError, SyntaxError):
        return None


def _is_comment(kind: str, line: str, column: int, comments: set[tuple[int, int]] | None,
                number: int) -> bool:
    """Whether the ``#`` at ``column`` of ``line`` starts a comment in a ``kind`` file."""
    if kind == "list":
        return not line[:column].strip(" \t")
    if kind == "python" and comments is not None:
        return (number, column) in comments
    return column == 0 or line[column - 1] in " \t;&|()"  # a shell comment starts a word


def find(text: str, kind: str) -> list[Suppression]:
    """The suppression comments of ``text``, read as a ``kind`` file (``python``, ``shell``,
    ``list``; in JSON, which has no comments, there are none)."""
    if "qmonexec:" not in text or kind == "json":
        return []
    comments = _python_comments(text) if kind == "python" else None
    found: list[Suppression] = []
    for number, line in enumerate(text.split("\n"), 1):
        m = _PATTERN.search(line)
        if m is None or not _is_comment(kind, line, m.start(), comments, number):
            continue
        codes = tuple(c.strip() for c in m.group("codes").split(",") if c.strip())
        lines = (number + 1,) if kind == "list" else (number, number + 1)
        found.append(Suppression(number, m.start() + 1, lines, codes, m.group("reason").strip()))
    return found


def _problem(name: str, s: Suppression, code: ReviewCode, message: str) -> ReviewFinding:
    return make_finding(name, (s.line, s.column), (s.line, s.column), code.value, message)


def apply(
    name: str, findings: list[ReviewFinding], suppressions: list[Suppression]
) -> list[ReviewFinding]:
    """``findings`` less those suppressed, plus a finding for each faulty suppression."""
    used: set[tuple[int, str]] = set()
    kept: list[ReviewFinding] = []
    valid = [s for s in suppressions if s.reason]
    for f in findings:
        hit = None
        if class_of(f.code) not in FAILING_ALWAYS:
            hit = next((s for s in valid if f.line in s.lines and f.code in s.codes), None)
        if hit is None:
            kept.append(f)
        else:
            used.add((hit.line, f.code))
    for s in suppressions:
        if not s.reason:
            kept.append(_problem(name, s, ReviewCode.SUPPRESSION_WITHOUT_REASON,
                                 "this suppression gives no reason, so it suppresses nothing: "
                                 "write why after the brackets"))
            continue
        for code in s.codes:
            if (s.line, code) in used:
                continue
            if code not in all_codes():
                why = "no such code: see docs/findings.md"
            elif class_of(code) in FAILING_ALWAYS:
                why = "an unproven finding cannot be suppressed"
            else:
                why = "no such finding here"
            kept.append(_problem(name, s, ReviewCode.UNUSED_SUPPRESSION,
                                 f"the suppression of {code!r} suppresses nothing ({why})"))
    return kept
