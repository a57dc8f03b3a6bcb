"""``lint-templates`` findings: one per unsafe slot of a user's Jinja2 templates.

:func:`qmonexec.shell.lint.lint_templates` reports every rendering in which a
slot escapes its word, which can be a dozen lines for one mistake; here they
are grouped into one ``template-slot-escapes`` finding per template and slot,
placed at the slot's first ``{{`` in the template file.
"""

from __future__ import annotations

__all__ = ["lint_directories"]

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .catalogue import ReviewCode
from .model import LineIndex, ReviewFinding, make_finding

if TYPE_CHECKING:
    from ..shell.lint import LintProblem


def _slot_position(source: str, slot: str) -> tuple[int, int]:
    name = re.escape(slot.split(".", 1)[0])
    m = re.search(r"\{\{-?\s*" + name + r"\b", source) if slot != "*" else None
    return LineIndex(source).at(m.start()) if m else (1, 1)


_SLOT_PROBLEMS = ("the slot does not render", "the sentinel is in no word")


def _group(problems: list[LintProblem]) -> dict[tuple[str, str], list[str]]:
    """Problems by (template, slot).  A rendering-wide problem (a finding in the rendered
    text) is a symptom of the slot problems of the same template when there are any."""
    slots: dict[tuple[str, str], list[str]] = {}
    general: dict[str, list[str]] = {}
    for p in problems:
        if p.message.startswith(_SLOT_PROBLEMS):
            slots.setdefault((p.template, p.slot), []).append(p.message)
        else:
            general.setdefault(p.template, []).append(p.message)
    for template, messages in general.items():
        mine = [key for key in slots if key[0] == template]
        if mine:
            slots[mine[0]] += messages
        else:
            slots[(template, "*")] = messages
    return slots


def lint_directories(directories: list[str]) -> tuple[list[ReviewFinding], int]:
    """Lint every ``*.j2`` template of each directory; the findings and the templates read."""
    from ..shell.lint import lint_templates

    out: list[ReviewFinding] = []
    count = 0
    for directory in directories:
        root = Path(directory)
        if not root.is_dir():
            raise InputError(f"not a directory: {directory!r}: give directories of *.j2 templates")
        count += len(list(root.glob("*.j2")))
        groups = _group(lint_templates(root))
        for (template, slot), messages in groups.items():
            path = root / template
            source = path.read_text(encoding="utf-8")
            where = _slot_position(source, slot)
            what = "the template" if slot == "*" else f"the slot {{{{ {slot} }}}}"
            more = f" (and {len(messages) - 1} more renderings)" if len(messages) > 1 else ""
            out.append(make_finding(
                str(path), where, where, ReviewCode.TEMPLATE_SLOT_ESCAPES.value,
                f"{what} does not render as one whole literal word: {messages[0]}{more}",
            ))  # fmt: skip
    return sorted(out, key=lambda f: (f.file, f.line, f.column)), count
