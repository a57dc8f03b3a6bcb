"""The shell validator: prove a ``sh -c`` string safe before it reaches QEMU.

``check(text, policy=None) -> Verdict`` is the entry point.  ``text`` may be a
bare shell string, an ``exec:`` URI, a QMP ``migrate``/``migrate-incoming``
command or an HMP line; the verdict says whether it is ``ok`` under the
:class:`Policy` (an allow-list of the shapes qmonexec renders), lists
:class:`Finding` objects pointing at exact columns of ``text``, and shows the
decoded commands.  Standard library only; ``shlex`` is never used.

Modules, in the order data flows: :mod:`.layers` (peel QMP/HMP/``exec:``),
:mod:`.lexer` (tokens of :mod:`.tokens`), :mod:`.parser` (AST of
:mod:`.nodes`), :mod:`.words` (quote removal and non-literal places),
:mod:`.policy` (shapes), :mod:`.verdict`; :mod:`.printer` prints an AST back
to canonical text and :mod:`.findings` documents every finding code.
:mod:`.fast` accepts strings that are literally a canonical rendered shape
without building an AST (same verdicts, tested); :mod:`.lint` checks that
every template slot renders as one whole literal word.
"""

from __future__ import annotations

from .check import check
from .findings import CODE_INFO, Code, Finding, Severity
from .policy import Policy, ProgramRule
from .verdict import CommandView, RedirectView, Verdict

__all__ = [
    "CODE_INFO",
    "Code",
    "CommandView",
    "Finding",
    "Policy",
    "ProgramRule",
    "RedirectView",
    "Severity",
    "Verdict",
    "check",
]
