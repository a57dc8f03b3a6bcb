"""The ``--allow-program`` option shared by the commands that validate strings.

Each command that prints validator findings and has the option builds its
policy through :func:`widened`, so a finding about a program that is not
allowed names ``--allow-program`` (an option of that command) instead of
the library call.
"""

from __future__ import annotations

__all__ = ["ALLOW_HELP", "CLI_HINT", "widened"]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..shell import Policy

#: What findings say where a program could be allowed.
CLI_HINT = "allow it with --allow-program NAME"

#: The help text of ``--allow-program``.
ALLOW_HELP = (
    "also allow this program, a bare name or an absolute path; repeatable. Shell builtins "
    "and reserved words are never allowed; a program that runs its arguments as code "
    "(env, sh, python3, ...) is allowed with a warning that its arguments are not checked"
)


def widened(policy: Policy, names: Sequence[str]) -> Policy:
    """``policy`` plus the programs ``names`` (InputError, exit 2, for one that can never be)."""
    return policy.allowing_commands(*names).hinting(CLI_HINT)
