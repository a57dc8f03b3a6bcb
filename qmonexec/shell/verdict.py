"""The result of a check: :class:`Verdict`, with the decoded commands.

A verdict says whether the string is safe (``ok``), why not (``findings``),
what was peeled around it (``layers``), which allowed shape it has
(``shape``), and what it runs: per simple command its argv after quote
removal and the redirections that apply to it (fd, operator, decoded target),
in the order the shell applies them.
"""

from __future__ import annotations

__all__ = ["CommandView", "Layer", "RedirectView", "Verdict"]

from dataclasses import dataclass
from typing import Any

from ..errors import UnsafeCommandError
from .findings import Code, Finding, Severity
from .position import Pos


@dataclass(frozen=True, slots=True)
class Layer:
    """One peeled layer: ``name`` is ``qmp``, ``hmp`` or ``exec``.

    ``start`` is where the layer's payload begins in the original text;
    ``detail`` names the command (``migrate``, ``migrate-incoming``, ...).
    (:mod:`qmonexec.shell.layers` peels them and re-exports this class.)
    """

    name: str
    start: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"name": self.name, "start": self.start, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class RedirectView:
    """One redirection: ``fd`` is explicit or the operator's default (0 for ``<``, 1 for ``>``).

    ``group`` is true when it comes from an enclosing ``{ }`` or ``( )``.
    """

    fd: int
    op: str
    target: str
    position: Pos
    explicit_fd: bool = False
    group: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "fd": self.fd,
            "op": self.op,
            "target": self.target,
            "explicit_fd": self.explicit_fd,
            "group": self.group,
            "position": self.position.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class CommandView:
    """One simple command as the shell runs it.

    ``argv`` holds the words after quote removal; ``redirects`` every
    redirection that applies (enclosing groups first); ``stage`` the index of
    the element of the top-level pipeline that holds the command (a command
    inside ``{ }`` has the group's index).
    """

    argv: tuple[str, ...]
    redirects: tuple[RedirectView, ...]
    position: Pos
    assignments: tuple[tuple[str, str], ...] = ()
    stage: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "argv": list(self.argv),
            "assignments": [list(a) for a in self.assignments],
            "redirects": [r.to_dict() for r in self.redirects],
            "stage": self.stage,
            "position": self.position.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :func:`qmonexec.shell.check` found.

    * ``ok``: true exactly when no finding has severity ``error``, the shell
      string parsed, and it has a shape the policy accepts.
    * ``text``: the text that was checked; ``shell``: the shell string found
      inside it (``None`` when a layer could not be peeled).
    * ``layers``: peeled layers, outermost first (``qmp``, ``hmp``, ``exec``).
    * ``direction``: ``outgoing``/``incoming`` when a monitor command said so.
    * ``shape``: ``save``, ``restore``, ``command`` or ``None``.
    * ``commands``: the decoded simple commands, in source order.
    * ``findings``: sorted by position; positions index into ``text``.
    """

    ok: bool
    text: str
    shell: str | None
    layers: tuple[Layer, ...]
    shape: str | None
    direction: str | None
    commands: tuple[CommandView, ...]
    findings: tuple[Finding, ...]

    @property
    def codes(self) -> list[str]:
        """The finding codes, in order (as strings)."""
        return [f.code.value for f in self.findings]

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of severity error."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def has(self, code: Code | str) -> bool:
        """Whether some finding has ``code``."""
        value = code.value if isinstance(code, Code) else code
        return any(f.code.value == value for f in self.findings)

    def raise_if_unsafe(self, what: str = "shell string") -> Verdict:
        """Return ``self`` if ``ok``, else raise :class:`~qmonexec.errors.UnsafeCommandError`."""
        if self.ok:
            return self
        first = self.errors[0] if self.errors else None
        detail = str(first) if first is not None else "it has none of the allowed shapes"
        more = len(self.errors) - 1
        raise UnsafeCommandError(
            f"the {what} is not safe: {detail}" + (f" (and {more} more)" if more > 0 else ""),
            verdict=self,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole verdict."""
        return {
            "ok": self.ok,
            "text": self.text,
            "shell": self.shell,
            "layers": [layer.to_dict() for layer in self.layers],
            "direction": self.direction,
            "shape": self.shape,
            "commands": [c.to_dict() for c in self.commands],
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, **kwargs: Any) -> str:
        """The verdict as JSON text (``kwargs`` go to :func:`json.dumps`)."""
        import json

        return json.dumps(self.to_dict(), **kwargs)
