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

from ..errors import InputError
from .catalogue import ReviewCode
from .model import LineIndex, ReviewFinding, make_finding


def _slot_position(source: str, slot: str) -> tuple[int, int]:
    name = re.escape(slot.split(".", 1)[0])
    m = re.search(r"\{\{-?\s*" + name + r"\b", source) if slot != "*" else None
    return LineIndex(source).at(m.start()) if m else (1, 1)


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
        groups: dict[tuple[str, str], list[str]] = {}
        for problem in lint_templates(root):
            groups.setdefault((problem.template, problem.slot), []).append(problem.message)
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
