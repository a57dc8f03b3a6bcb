"""``qmonexec check`` and ``qmonexec explain``: validate shell strings, or show why.

Both take one string as an argument, ``-`` for standard input, or ``--file F``
(repeatable: every file is read, in order, and named in the output); standard
input and files hold one string per line (blank lines are skipped;
only the ``\\n`` ends a line, so a CR stays part of the string and is
reported).  ``check`` prints a verdict per string (``--json`` for the full
verdict as JSON) and exits 0 when every string is safe, 1 when any is unsafe,
2 on a usage error.  ``explain`` prints the review view of
:func:`qmonexec.shell.explain.explain` and exits the same way.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..vocabulary import INPUT_SIZE, TRANSFER_SIZE
from .programs import ALLOW_HELP, widened
from .uri import size

if TYPE_CHECKING:
    from ..shell import Policy, Verdict

_EXAMPLES = f"""\
examples:
  qmonexec check 'exec:gzip -c | {{ dd bs=4096 seek=2 if=/dev/null && dd ibs={INPUT_SIZE} obs={TRANSFER_SIZE}; }} 1<>/vm/g.img'
  qmonexec check --json --offset 8192 "$URI"
  qmonexec check --file uris.txt --allow-program pigz
  qmonexec uri save /vm/g.img | qmonexec explain -
"""  # noqa: E501

_FORMS = ("auto", "shell", "uri", "qmp", "hmp")


def _add_common(parser: argparse.ArgumentParser) -> None:
    from .review import add_gate_options

    add_gate_options(parser)
    parser.add_argument("string", nargs="?", metavar="STRING",
                        help="the text to check: a shell string, an exec: URI, a QMP command or "
                             "an HMP line; '-' reads one string per line from standard input")
    parser.add_argument("--file", metavar="F", action="append", default=[],
                        help="read one string per line from file F; repeatable, every file is "
                             "read in order and named in the output")
    parser.add_argument("--form", choices=_FORMS, default="auto",
                        help="read the text as this form instead of guessing (default auto)")
    parser.add_argument("--policy", choices=("default", "command"), default="default",
                        help="default: qmonexec's save/restore/command shapes; command: one "
                             "allowed program (dd, cat, tee, the compressors, --allow-program) "
                             "whose words are all literal")
    parser.add_argument("--allow-program", action="append", default=[], metavar="NAME",
                        help=ALLOW_HELP)
    parser.add_argument("--strict-text", action="store_true",
                        help="refuse control characters and non-ASCII text even inside single "
                             "quotes (by default they are warnings)")
    parser.add_argument("--offset", type=size, metavar="N",
                        help="require dd's seek/skip times its block size to equal N bytes")


def register(subparsers: Any) -> None:
    """Add the ``check`` and ``explain`` commands."""
    check = subparsers.add_parser(
        "check", help="prove shell strings / exec: URIs safe (exit 0) or not (exit 1)",
        description="Validate a shell string, an exec: URI, a QMP migrate command or an HMP "
                    "migrate line against an allow-list of the shapes qmonexec renders. "
                    "Exit status: 0 safe, 1 unsafe, 2 usage error.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(check)
    check.add_argument("--json", action="store_true",
                       help="print the verdict as JSON (a list of {line, verdict} for several)")
    check.set_defaults(handler=_run_check)

    explain = subparsers.add_parser(
        "explain", help="review view: layers, decoded argv, redirections, findings with carets",
        description="Show what the validator sees in a string: the layers peeled, each command "
                    "with its argv decoded, each redirection, and each finding under the "
                    "column it points at. Exit status as for check.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(explain)
    explain.add_argument("--code", metavar="CODE",
                         help="print the documentation of finding CODE (class, severity, shells, "
                              "example and fix) instead of checking a string")
    explain.set_defaults(handler=_run_explain)


def _policy(args: argparse.Namespace) -> Policy:
    from ..shell import Policy

    policy = Policy.command() if args.policy == "command" else Policy.default()
    policy = widened(policy, args.allow_program)
    if args.offset is not None:
        policy = policy.expecting_offset(args.offset)
    if args.strict_text:
        policy = policy.strict_text()
    return policy


#: One string to check: where it came from (file name, ``-`` or ``None`` for the
#: argument), its line number (0 for the argument) and the text.
_Input = tuple["str | None", int, str]
_Checked = tuple[_Input, "Verdict"]

#: At most this many finding groups are printed per string; the verdict (and
#: ``--json``) keeps every finding, and the exit status counts them all.
MAX_PRINTED = 25


def _lines(source: str, data: bytes) -> list[_Input]:
    text = data.decode("utf-8", "surrogateescape")
    return [
        (source, k, line) for k, line in enumerate(text.split("\n"), 1) if line.strip(" \t")
    ]


def _inputs(args: argparse.Namespace) -> tuple[list[_Input], bool]:
    """The strings to check, with their source and line, and whether they came from lines."""
    from . import UsageError

    if args.file and args.string is not None:
        raise UsageError("give either STRING (or '-') or --file F, not both")
    if args.file:
        found: list[_Input] = []
        for name in args.file:
            try:
                with open(name, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise InputError(
                    f"cannot read --file {name!r}: {exc.strerror}; nothing was checked"
                ) from None
            found += _lines(name, data)
        return found, True
    if args.string is None:
        raise UsageError("give the STRING to check, '-' for standard input, or --file F")
    if args.string == "-":
        return _lines("-", sys.stdin.buffer.read()), True
    return [(None, 0, args.string)], False


def _verdicts(args: argparse.Namespace) -> tuple[list[_Checked], bool]:
    from ..shell import check

    inputs, many = _inputs(args)
    policy = _policy(args)
    return [(item, check(item[2], policy, form=args.form)) for item in inputs], many


def _name(item: _Input) -> str:
    source = item[0]
    return "<argument>" if source is None else "<stdin>" if source == "-" else source


def _where(item: _Input) -> str:
    return f"{_name(item)}:{item[1]}"


def _summary(verdict: Verdict, severity: str) -> list[str]:
    from ..review.catalogue import SEVERITY_RANK, class_of
    from ..shell.findings import group_findings

    errors = sum(f.count for f in verdict.errors)
    if verdict.ok:
        out = [f"safe: {verdict.shape}"]
    else:
        out = [f"unsafe: {errors} error{'s' * (errors != 1)}"]
    floor = SEVERITY_RANK[severity]
    shown = [f for f in verdict.findings if SEVERITY_RANK[f.severity.value] >= floor]
    groups = group_findings(shown)
    out += [f"  {g} [{class_of(g.first.code).value}]" for g in groups[:MAX_PRINTED]]
    if len(groups) > MAX_PRINTED:
        hidden = sum(g.count for g in groups[MAX_PRINTED:])
        out.append(f"  ... {hidden} more findings not shown (--json lists all)")
    return out


def _review_findings(verdicts: list[_Checked]) -> list[Any]:
    """The verdicts' findings as review findings (file, line and column of the input)."""
    from ..review.model import SourceMap, findings_from

    out: list[Any] = []
    for item, verdict in verdicts:
        line = max(item[1], 1)
        points = [(line, c) for c in range(1, len(verdict.text) + 1)]
        if item[1] == 0:  # one argument: it may hold newlines
            points, row, col = [], 1, 1
            for ch in verdict.text:
                points.append((row, col))
                row, col = (row + 1, 1) if ch == "\n" else (row, col + 1)
        out += findings_from(verdict, SourceMap(_name(item), points))
    return out


def _gate(args: argparse.Namespace, verdicts: list[_Checked]) -> int:
    """Exit status: 1 when a finding fails --fail-on (with the default, any unsafe verdict)."""
    from ..review.runner import failing
    from .review import CLASSES, fail_on

    classes = fail_on(args)
    if len(classes) == len(CLASSES) and not all(v.ok for _item, v in verdicts):
        return 1
    return 1 if failing(_review_findings(verdicts), classes) else 0


def _other_output(args: argparse.Namespace, verdicts: list[_Checked]) -> int | None:
    """Print gcc, json or sarif output when --output asks for it; the exit status."""
    if args.output == "text":
        return None
    from .review import emit

    findings = _review_findings(verdicts)
    emit(args, findings, 1)
    return _gate(args, verdicts)


def _write(text: str) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def _run_check(args: argparse.Namespace) -> int:
    import json

    verdicts, many = _verdicts(args)
    other = None if args.json else _other_output(args, verdicts)
    if other is not None:
        return other
    if args.json:
        if many:
            data: Any = [
                {"file": item[0], "line": item[1], "verdict": v.to_dict()} for item, v in verdicts
            ]
        else:
            data = verdicts[0][1].to_dict()
        _write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
    else:
        out: list[str] = []
        for item, verdict in verdicts:
            lines = _summary(verdict, args.severity)
            if many:
                lines[0] = f"{_where(item)}: {lines[0]}"
            out += lines
        if many and not verdicts:
            out.append("no strings to check")
        _write("\n".join(out) + "\n")
    return _gate(args, verdicts)


def _run_explain(args: argparse.Namespace) -> int:
    from ..shell.explain import explain

    if args.code is not None:
        return _explain_code(args.code)
    verdicts, many = _verdicts(args)
    other = _other_output(args, verdicts)
    if other is not None:
        return other
    parts = []
    for item, verdict in verdicts:
        text = explain(verdict)
        parts.append(f"=== {_where(item)} ===\n{text}" if many else text)
    _write("\n".join(parts) if parts else "no strings to check\n")
    return _gate(args, verdicts)


def _explain_code(code: str) -> int:
    from ..review.catalogue import all_codes
    from ..review.docs import code_entry

    if code not in all_codes():
        raise InputError(f"no finding code {code!r}: docs/findings.md lists every code")
    _write(code_entry(code))
    return 0
