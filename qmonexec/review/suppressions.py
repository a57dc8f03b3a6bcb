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

import re
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


def find(text: str, kind: str) -> list[Suppression]:
    """The suppression comments of ``text``, read as a ``kind`` file (``list`` or other)."""
    if "qmonexec:" not in text:
        return []
    found: list[Suppression] = []
    for number, line in enumerate(text.split("\n"), 1):
        m = _PATTERN.search(line)
        if m is None:
            continue
        if kind == "list" and not line.lstrip(" \t").startswith("#"):
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
