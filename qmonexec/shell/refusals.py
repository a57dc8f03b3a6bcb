"""Why a program name is refused, in a finding's words.

:func:`refusal` picks the finding code and message for a command name the
policy does not allow: a relative path, a name the shells handle themselves
(a builtin, reserved word or alias, see :mod:`qmonexec.shell.builtins`), or
a program that is simply not on the allow-list, with the way to allow it in
the caller's words (``Policy.allow_hint``).
"""

from __future__ import annotations

__all__ = ["ARITHMETIC_BUILTINS", "RUNS_CODE", "refusal"]

from .builtins import NEVER_PROGRAMS, where_handled
from .findings import Code
from .policy import ARITHMETIC_BUILTINS, RUNS_CODE, Policy


def refusal(name: str, policy: Policy) -> tuple[Code, str]:
    """The finding code and message for the program ``name``, which ``policy`` does not allow."""
    hint = policy.allow_hint
    if "/" in name and not name.startswith("/"):
        return Code.RELATIVE_PATH, (
            f"the program {name!r} is a relative path, resolved against QEMU's working "
            "directory: give an absolute path or a bare name"
        )
    if name in RUNS_CODE:
        return Code.EVALUATES_CODE, (
            f"{name!r} runs its arguments as shell code, so they escape validation: "
            "run the program itself"
        )
    if name in ARITHMETIC_BUILTINS:
        return Code.EVALUATES_CODE, (
            f"{name!r} is a builtin in some shells that evaluates an argument as "
            "arithmetic or as a variable name, where 'a[$(cmd)]' runs cmd (bash, "
            "mksh, zsh, posh), so the arguments escape validation: to run the program, "
            f"give its absolute path, for example /usr/bin/{name} ({hint})"
        )
    if name in NEVER_PROGRAMS:
        return Code.EVALUATES_CODE, (
            f"{name!r} is handled by the shell itself ({where_handled(name)}: "
            "a builtin, reserved word or alias), not run as a program, so its arguments "
            "escape validation; no policy allows it: run a program instead"
        )
    allowed = ", ".join(sorted(set(policy.programs) | {"dd"}))
    base = name.rsplit("/", 1)[-1]
    extra = f"; write the bare name {base!r}" if base != name and base in policy.programs else ""
    extra = extra or f"; {hint}"
    return Code.COMMAND_NOT_ALLOWED, (
        f"{name!r} is not a program this policy allows (allowed: {allowed}){extra}"
    )
