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
:mod:`.shapes` (the general rules of :mod:`.rules`, then the shapes of a
:mod:`.policy`, built of the :mod:`.stages`), :mod:`.verdict`;
:mod:`.findings` documents every finding code.  :mod:`.fast` accepts strings that are
literally a canonical rendered shape without building an AST (same verdicts,
tested); :mod:`.lint` checks that every template slot renders as one whole
literal word.

Imports stay cheap: the names below (except :func:`check`) are loaded on
first use, and :func:`check` loads :mod:`.analysis` (which drives the layers,
lexer, parser, words and shapes) only when the fast path cannot decide, so a
canonical rendered string is validated without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# ``check`` is bound eagerly: the function shares its name with its submodule,
# and a lazily bound name would be replaced by the submodule the first time
# anything imported ``qmonexec.shell.check``.  The module is light (it loads
# the fast path; the full analysis is imported inside the function).
from .check import check

if TYPE_CHECKING:
    from .findings import CODE_INFO, Code, Finding, Severity
    from .policy import Policy, ProgramRule
    from .verdict import CommandView, RedirectView, Verdict

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    "CODE_INFO": "findings",
    "Code": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "Policy": "policy",
    "ProgramRule": "policy",
    "CommandView": "verdict",
    "RedirectView": "verdict",
    "Verdict": "verdict",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
