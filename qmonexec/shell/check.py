"""The entry point: :func:`check` a shell string, ``exec:`` URI, QMP command or HMP line.

A canonical rendered string is accepted by :mod:`.fast` alone; only when the
fast path returns ``None`` does :func:`check` load the full analysis
(:mod:`.analysis`: layers, lexer, parser, word analysis, :mod:`.shapes`), so
validating a rendered URI never pays for importing it (``qmonexec uri save``
start-up).
"""

from __future__ import annotations

__all__ = ["MAX_SHELL_BYTES", "check"]

from ..limits import SHELL_MAX_BYTES as MAX_SHELL_BYTES
from .fast import fast_check
from .policy import Policy
from .verdict import Verdict

_DEFAULT_POLICY = Policy.default()


def check(text: str, policy: Policy | None = None, *, form: str = "auto") -> Verdict:
    """Validate ``text`` against ``policy`` (default: :meth:`Policy.default`).

    ``text`` may be a bare shell string, an ``exec:`` URI, a QMP command
    (JSON) or an HMP ``migrate``/``migrate_incoming`` line; ``form`` forces
    one reading (``"shell"``, ``"uri"``, ``"qmp"``, ``"hmp"``) instead of
    guessing (``"auto"``).  Bad input never raises: it yields a verdict whose
    findings say what is wrong, pointing into ``text``.  Only arguments of the
    wrong type raise :class:`TypeError`.
    """
    if not isinstance(text, str):
        raise TypeError(f"check() needs the text as str, not {type(text).__name__}")
    if policy is None:
        policy = _DEFAULT_POLICY
    elif not isinstance(policy, Policy):
        raise TypeError(f"policy must be a Policy, not {type(policy).__name__}")
    if form == "auto" or form == "uri":
        quick = fast_check(text, policy)
        if quick is not None:
            return quick
    # the full path, loaded on first use
    from .analysis import analyse
    from .layers import FORMS

    if form not in FORMS:
        raise TypeError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    return analyse(text, policy, form)
