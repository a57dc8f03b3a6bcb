"""The ``exec:`` gate: what the QMP client checks before a command leaves the process.

:func:`check_command` refuses, before anything is sent, text QMP cannot carry
(:func:`qmonexec.monitor.check_arguments`) and every string QEMU would hand
to a shell unless the validator (:mod:`qmonexec.shell`) accepts it: ``exec:``
URIs at any depth, QEMU 8.2+ ``exec`` channels (an argv list, judged as the
equivalent quoted command) and HMP lines sent through
``human-monitor-command``.  Kept apart from the connection code
(:mod:`.client`), which only calls it.
"""

from __future__ import annotations

__all__ = ["channel_uri", "check_command"]

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import InputError, UnsafeCommandError
from ..monitor import check_arguments
from ..quoting import quote_words
from ..vocabulary import DIRECTION_OF_QMP, SHAPE_OF_DIRECTION

if TYPE_CHECKING:
    from ..shell import Policy

#: The side of a migration each rendered shape belongs on.
_SIDE_OF_SHAPE = {shape: side for side, shape in SHAPE_OF_DIRECTION.items()}


def _find_exec_strings(value: Any) -> list[tuple[str, str, str]]:
    """Return ``(path, text-to-judge, text-to-show)`` for everything in ``value`` QEMU would run.

    That is every ``"uri"`` key (at any depth) whose value starts with
    ``exec:``, and every ``{"transport": "exec", "args": [...]}`` channel of
    QEMU 8.2+, whose argv is rendered as the equivalent quoted ``exec:``
    command so one validator judges both.
    """
    found: list[tuple[str, str, str]] = []
    stack: list[tuple[Any, str]] = [(value, "arguments")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, Mapping):
            if item.get("transport") == "exec":
                args = item.get("args")
                found.append((f"{path}['args']", _argv_uri(args, path),
                               _argv_uri(args, path, as_given=True)))
            for key, child in item.items():
                where = f"{path}[{key!r}]"
                if key == "uri" and isinstance(child, str) and child.startswith("exec:"):
                    found.append((where, child, child))
                else:
                    stack.append((child, where))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    found.reverse()
    return found


def _argv_uri(args: Any, path: str, *, as_given: bool = False) -> str:
    if not isinstance(args, (list, tuple)) or not all(isinstance(a, str) for a in args):
        raise UnsafeCommandError(
            f"{path} is an exec channel whose 'args' is not a list of strings; refusing it"
        )
    if args and not as_given:
        from ..shell.layers import channel_program  # the validator's own rule, one home

        args = [channel_program(args[0]), *args[1:]]
    try:
        return "exec:" + quote_words(args, what=f"{path}['args'] word")
    except InputError as exc:
        raise UnsafeCommandError(
            f"{path} is an exec channel that cannot be checked: {exc}"
        ) from None


def channel_uri(args: list[str]) -> str:
    """The ``exec:`` command an exec channel's argv is judged as (the program named as the
    policy knows it); :class:`UnsafeCommandError` when the argv cannot be checked."""
    return _argv_uri(args, "channel")


def _describe_findings(verdict: Any) -> str:
    findings = tuple(getattr(verdict, "errors", ()) or getattr(verdict, "findings", ()) or ())
    if not findings:
        return "it has none of the shapes the policy allows"
    return "; ".join(str(finding) for finding in findings)


def _refuse(name: str, where: str, text: str, verdict: Any, why: str | None = None) -> NoReturn:
    reason = why or f"it did not pass the validator: {_describe_findings(verdict)}"
    raise UnsafeCommandError(
        f"refusing to send {name} with {where} = {text!r}: {reason}", verdict=verdict
    )


def check_command(
    name: str,
    arguments: Mapping[str, Any] | None,
    *,
    policy: Policy | None = None,
    allow_unvalidated_exec: bool = False,
) -> None:
    """Raise unless command ``name`` with ``arguments`` is safe to send; never sends anything.

    * Every string, keys included, must be text QMP carries exactly
      (:func:`qmonexec.quoting.check_qmp_text`), else :class:`InputError`.
    * Every argument named ``uri`` (at any depth) whose value starts with
      ``exec:`` must pass ``qmonexec.shell.check(uri, policy)`` (``policy=None``
      is the validator's default policy), else :class:`UnsafeCommandError`
      carrying the verdict.  A save shape sent with ``migrate-incoming``, or a
      restore shape with ``migrate``, is refused too.  QEMU 8.2+ ``exec``
      channels (an argv list) are judged as the equivalent quoted command.
    * ``human-monitor-command`` whose command line mentions ``exec:`` must
      pass the validator as an HMP line (it understands HMP quoting and the
      1023-byte truncation).

    ``allow_unvalidated_exec=True`` skips the ``exec:`` rules (the text rule
    always applies).  Use it only for strings your own tool has checked;
    prefer passing a custom ``policy``.
    """
    check_arguments(name, arguments)
    if allow_unvalidated_exec or arguments is None:
        return
    targets = _find_exec_strings(arguments)
    line = arguments.get("command-line") if name == "human-monitor-command" else None
    if not targets and not (isinstance(line, str) and "exec:" in line):
        return
    from ..shell import check  # lazy: the validator is only needed for exec: commands

    if isinstance(line, str) and "exec:" in line:
        # a command-line is an HMP line, whatever it looks like: QEMU reads it as one
        verdict = check(line, policy, form="hmp")
        if not verdict.ok:
            _refuse(name, "arguments['command-line']", line, verdict)
    direction = DIRECTION_OF_QMP.get(name)
    for where, text, shown in targets:
        verdict = check(text, policy, form="uri")
        if not verdict.ok:
            _refuse(name, where, shown, verdict)
        shape = getattr(verdict, "shape", None)
        side = _SIDE_OF_SHAPE.get(shape) if isinstance(shape, str) else None
        if direction and side and side != direction:
            _refuse(name, where, shown, verdict,
                    f"a {shape} command belongs on the {side} side, not with {name}")
