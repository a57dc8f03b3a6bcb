"""A review view of a :class:`~qmonexec.shell.verdict.Verdict`, for humans.

:func:`explain` prints what the validator saw: the verdict, the layers peeled
(QMP, HMP, ``exec:``), every simple command with its argv after quote removal,
every redirection with its fd, operator and decoded target, and every finding
under the line of text it points at, with a caret at the exact column, its
severity, code, message and the shells it affects.

Text is shown with every character outside printable ASCII escaped, so that
nothing invisible can hide in a review: ``\\t \\n \\r`` for tab, newline and
carriage return, ``\\xNN`` for other ASCII control characters and for bytes
that are not UTF-8, ``\\uNNNN``/``\\UNNNNNNNN`` for non-ASCII characters.
Quoted values are written between double quotes with ``\\"`` and ``\\\\``.
Carets are placed in the escaped text, so they line up whatever the input.
"""

from __future__ import annotations

__all__ = ["explain", "visible"]

from .findings import ALL_SHELLS, FindingGroup, group_findings
from .verdict import CommandView, RedirectView, Verdict

#: Source lines longer than this are shown as a window around the column.
WINDOW = 100

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _char(ch: str) -> str:
    if " " <= ch <= "~":
        return ch
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if 0xDC80 <= cp <= 0xDCFF:  # a byte that is not UTF-8 (surrogate escape)
        return f"\\x{cp - 0xDC00:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def visible(text: str, quote: bool = False) -> str:
    """``text`` with every character outside printable ASCII escaped.

    With ``quote``, the result is wrapped in double quotes and ``"`` and
    ``\\`` are escaped too, so the value's limits are unambiguous.
    """
    if text.isascii() and text.isprintable() and not quote:
        return text
    out = []
    for ch in text:
        if quote and ch in '"\\':
            out.append("\\" + ch)
        else:
            out.append(_char(ch))
    body = "".join(out)
    return f'"{body}"' if quote else body


def _shells(shells: tuple[str, ...]) -> str:
    if not shells:
        return "no shell (review or monitor layer)"
    if set(shells) >= set(ALL_SHELLS):
        return "all shells"
    return ", ".join(shells)


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


def _redirect(r: RedirectView, text: str) -> str:
    where = "enclosing group" if r.group else "command"
    fd = f"fd {r.fd}" + ("" if r.explicit_fd else " (default)")
    return (
        f"redirect {fd} {r.op} {visible(r.target, True)}"
        f"  [{where}, at {r.position.line}:{r.position.column}]"
    )


def _command(index: int, cmd: CommandView) -> list[str]:
    out = [f"  command {index} (pipeline stage {cmd.stage}, at "
           f"{cmd.position.line}:{cmd.position.column}):"]  # fmt: skip
    for name, value in cmd.assignments:
        out.append(f"    assignment {name} = {visible(value, True)}")
    for k, arg in enumerate(cmd.argv):
        out.append(f"    argv[{k}] = {visible(arg, True)}")
    if not cmd.argv:
        out.append("    (no program: only redirections)")
    return out


def _excerpt(line: str, column: int, length: int) -> tuple[str, str]:
    """The escaped ``line`` (or a window of it) and a caret line under ``column``."""
    start = column - 1
    end = min(max(start + length, start + 1), len(line) + 1)
    lo = 0
    hi = len(line)
    if len(line) > WINDOW:
        lo = max(0, start - WINDOW // 2)
        hi = min(len(line), max(lo + WINDOW, end))
    head = "..." if lo > 0 else ""
    tail = "..." if hi < len(line) else ""
    before = head + visible(line[lo:start])
    marked = visible(line[start:min(end, hi)]) if start < len(line) else ""
    width = max(len(marked), 1)
    shown = before + visible(line[start:hi]) + tail
    return shown, " " * len(before) + "^" * min(width, WINDOW)


#: At most this many finding groups are shown; the verdict keeps them all.
MAX_SHOWN = 25


def _finding(group: FindingGroup, lines: list[str]) -> list[str]:
    f = group.first
    p = f.position
    out = [f"  {p.line}:{p.column}: {f.severity.value} {f.code.value}"]
    if group.count > 1:
        q = group.last.position
        last = "" if group.last is f else f", the last at {q.line}:{q.column}"
        out[0] += f" ({group.count} findings like this{last})"
    if 1 <= p.line <= len(lines):
        shown, carets = _excerpt(lines[p.line - 1], p.column, f.length)
        out.append(f"    | {shown}")
        out.append(f"    | {carets}")
    out.append(f"    {f.message}")
    out.append(f"    affects: {_shells(f.shells)}")
    return out


def explain(verdict: Verdict) -> str:
    """The review view of ``verdict`` as text (lines end in ``\\n``)."""
    text = verdict.text
    errors = sum(f.count for f in verdict.findings if f.severity.value == "error")
    warnings = sum(f.count for f in verdict.findings if f.severity.value == "warning")
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if verdict.ok:
        head = f"verdict: SAFE, {verdict.shape} shape ({counts})"
    else:
        head = f"verdict: UNSAFE ({counts})"
    out = [head, f"text: {visible(text, True)}"]
    if verdict.layers:
        out.append("layers peeled, outermost first:")
        for layer in verdict.layers:
            detail = f" {layer.detail}" if layer.detail else ""
            out.append(f"  {layer.name}{detail}: payload at {_position(text, layer.start)}")
    else:
        out.append("layers peeled: none (a bare shell string)")
    if verdict.direction is not None:
        out.append(f"direction: {verdict.direction}")
    if verdict.shell is None:
        out.append("shell string: none found")
    else:
        out.append(f"shell string: {visible(verdict.shell, True)}")
    if verdict.commands:
        out.append("commands, in source order:")
        for index, cmd in enumerate(verdict.commands):
            out.extend(_command(index, cmd))
            out.extend(f"    {_redirect(r, text)}" for r in cmd.redirects)
    else:
        out.append("commands: none decoded")
    if verdict.findings:
        out.append("findings:")
        lines = text.split("\n")
        groups = group_findings(verdict.findings)
        for group in groups[:MAX_SHOWN]:
            out.extend(_finding(group, lines))
        if len(groups) > MAX_SHOWN:
            hidden = sum(g.count for g in groups[MAX_SHOWN:])
            out.append(f"  ... {hidden} more findings not shown (qmonexec check --json lists all)")
    else:
        out.append("findings: none")
    return "\n".join(out) + "\n"
