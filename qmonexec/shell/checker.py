"""What both passes over a parsed script share: the policy, the report, word analysis.

:func:`~qmonexec.shell.shapes.evaluate` checks a script in two passes, the
general rules of :mod:`qmonexec.shell.rules` and the shape matchers of
:mod:`qmonexec.shell.shapes`.  Both derive from :class:`Checker`, which holds
what they share, including the redirections the general pass already
reported (so the shape pass does not report them a second time).
"""

from __future__ import annotations

__all__ = ["FILE_OPS", "Checker", "fd"]

from collections.abc import Callable

from ..limits import SpecialPath
from .findings import Code, Reporter
from .nodes import Redirect, SimpleCommand, Word
from .policy import Policy
from .words import WordInfo

_DEFAULT_FD = {"<": 0, "<>": 0, "<&": 0, "<<": 0, "<<-": 0}
#: The redirection operators that open a file by name.
FILE_OPS = frozenset({"<", ">", ">>", "<>", ">|"})


def fd(redirect: Redirect) -> int:
    """The file descriptor ``redirect`` applies to (its default when none is written)."""
    if redirect.fd is not None:
        return redirect.fd
    return _DEFAULT_FD.get(redirect.op, 1)


class Checker:
    """The state a pass over one script works with.

    ``flagged`` holds the ``id()`` of every redirection already reported; pass
    the same set to every pass over the same script.
    """

    def __init__(
        self,
        policy: Policy,
        rep: Reporter,
        info: Callable[[Word], WordInfo],
        flagged: set[int],
    ) -> None:
        self.policy = policy
        self.rep = rep
        self.info = info
        self.flagged = flagged

    def add(self, code: Code, offset: int, message: str, **kw: object) -> None:
        """Report a finding (see :meth:`~qmonexec.shell.findings.Reporter.add`)."""
        self.rep.add(code, offset, message, **kw)  # type: ignore[arg-type]

    def name(self, cmd: SimpleCommand) -> str | None:
        """The command name of ``cmd`` when it is literal, else ``None``."""
        if not cmd.words:
            return None
        info = self.info(cmd.words[0])
        return info.value if info.literal else None

    def special(self, special: SpecialPath, start: int, end: int) -> None:
        """Report a path the shells or the kernel treat specially, at ``start:end``."""
        self.add(
            Code.SPECIAL_PATH,
            start,
            f"{special.reason}: give the path of an ordinary file",
            length=max(end - start, 1),
            shells=special.shells,
        )

    def flag(self, r: Redirect) -> None:
        """Record that ``r`` has been reported."""
        self.flagged.add(id(r))
