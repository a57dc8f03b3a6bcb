"""Why a program name is refused, in a finding's words.

:func:`refusal` picks the finding code and message for a command name the
policy does not allow: a name read as an option, a relative path, a name the
shells handle themselves (a builtin, reserved word or alias, see
:mod:`qmonexec.shell.builtins`), a program that runs its arguments as code
(:mod:`qmonexec.shell.runners`), or a program that is simply not on the
allow-list, with the way to allow it in the caller's words
(``Policy.allow_hint``).
"""

from __future__ import annotations

__all__ = ["refusal"]

from collections.abc import Iterable

from .builtins import ARITHMETIC_BUILTINS, NEVER_PROGRAMS, RUNS_CODE, where_handled
from .findings import Code
from .runners import runs_code


def refusal(name: str, allowed: Iterable[str], hint: str) -> tuple[Code, str]:
    """The finding code and message for the program ``name``, which is not allowed.

    ``allowed`` is the policy's allow-list, ``hint`` how the reader may widen it
    (``Policy.allow_hint``).
    """
    if not name or name[0] in "-+":
        return Code.COMMAND_NOT_ALLOWED, (
            f"the command name {name!r} starts with {name[:1]!r} or is empty, which shells and "
            "programs read as an option: give a program by its bare name or absolute path"
        )
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
            f"allow and give its absolute path, for example /usr/bin/{name} ({hint})"
        )
    if name in NEVER_PROGRAMS:
        return Code.EVALUATES_CODE, (
            f"{name!r} is handled by the shell itself ({where_handled(name)}: "
            "a builtin, reserved word or alias), not run as a program, so its arguments "
            "escape validation; no policy allows it: run a program instead"
        )
    if runs_code(name):
        return Code.PROGRAM_RUNS_CODE, (
            f"{name!r} runs its arguments (or its input) as code or as another command, "
            "which qmonexec cannot check, so no policy allows it by default: run the program "
            f"itself, or name it explicitly to accept that risk ({hint})"
        )
    names = ", ".join(sorted(set(allowed) | {"dd"}))
    return Code.COMMAND_NOT_ALLOWED, (
        f"{name!r} is not a program this policy allows (allowed: {names}); {hint}"
    )
