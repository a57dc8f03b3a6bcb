"""``qmonexec review`` and ``qmonexec lint-templates``: review a code base for CI.

``review PATH...`` reads Python, JSON/JSON Lines, shell and list files (see
:mod:`qmonexec.review`) and prints every finding with its file, line,
column, code and class.  ``lint-templates DIR...`` lints users' Jinja2
templates.  Exit status: 0 nothing fails the gate, 1 something does, 2 bad
usage or a missing path.
"""

from __future__ import annotations

__all__ = ["CLASSES", "OUTPUTS", "add_gate_options", "emit", "fail_on", "register"]

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .programs import ALLOW_HELP, widened

if TYPE_CHECKING:
    from ..review.catalogue import FindingClass
    from ..review.model import ReviewFinding

CLASSES = ("injection", "data-loss", "portability", "shape", "unproven")
OUTPUTS = ("text", "gcc", "json", "sarif")

_EXAMPLES = """\
examples:
  qmonexec review src/ tests/fixtures/qmp.jsonl scripts/save.sh
  qmonexec review --output sarif --help-base-url https://example.org/findings.html src/ > r.sarif
  qmonexec review --fail-on injection,data-loss src/
  git diff --name-only | qmonexec review --stdin-type list -
"""


def add_gate_options(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    """Add ``--fail-on``, ``--severity`` and (with ``output``) ``--output``, ``--help-base-url``."""
    parser.add_argument("--fail-on", metavar="CLASSES", default=",".join(CLASSES),
                        help="comma-separated finding classes whose errors fail (exit 1): "
                             f"{', '.join(CLASSES)} (default: all; unproven always fails)")
    parser.add_argument("--severity", choices=("error", "warning", "note"), default="note",
                        help="print findings of this severity or worse (default note: all)")
    if output:
        parser.add_argument("--output", choices=OUTPUTS, default="text",
                            help="output format (default text)")
        parser.add_argument("--help-base-url", metavar="URL",
                            help="SARIF: link each rule to URL#CODE (for example the published "
                                 "docs/findings.md)")


def fail_on(args: argparse.Namespace) -> frozenset[FindingClass]:
    """The classes of ``--fail-on`` (usage error for an unknown one)."""
    from ..review.catalogue import FindingClass
    from . import UsageError

    names = [n.strip() for n in args.fail_on.split(",") if n.strip()]
    bad = [n for n in names if n not in CLASSES]
    if bad:
        raise UsageError(f"--fail-on: unknown class {bad[0]!r}; use some of {', '.join(CLASSES)}")
    return frozenset(FindingClass(n) for n in names)


def emit(args: argparse.Namespace, findings: list[ReviewFinding], files: int) -> int:
    """Print the findings ``--severity`` keeps in ``--output``; the exit status of the gate."""
    from ..review.formats import render
    from ..review.runner import failing, visible

    text = render(visible(findings, args.severity), args.output, files, args.help_base_url)
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
    return 1 if failing(findings, fail_on(args)) else 0


def register(subparsers: Any) -> None:
    """Add the ``review`` and ``lint-templates`` commands."""
    review = subparsers.add_parser(
        "review", help="review files for unsafe exec: commands (Python, JSON, shell, lists)",
        description="Find the exec: URIs, QMP migrate commands and HMP lines in Python source, "
                    "JSON/JSON Lines, shell scripts (virsh qemu-monitor-command) and list files "
                    "(one string per line), and check each with file:line:col positions. "
                    "Exit status: 0 nothing fails --fail-on, 1 something does, 2 usage error.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    review.add_argument("paths", nargs="+", metavar="PATH",
                        help="files, directories (recursively) or '-' for standard input")
    review.add_argument("--stdin-type", choices=("list", "python", "json", "shell"),
                        default="list", help="how to read standard input (default list)")
    review.add_argument("--no-ignore", action="store_true",
                        help="ignore '# qmonexec: ignore[...]' suppressions: show everything")
    review.add_argument("--allow-program", action="append", default=[], metavar="NAME",
                        help=ALLOW_HELP)
    add_gate_options(review)
    review.set_defaults(handler=_run_review)

    lint = subparsers.add_parser(
        "lint-templates", help="check that every slot of your Jinja2 templates stays one word",
        description="Render every *.j2 template in each DIR with hostile values in every slot "
                    "and report each slot that does not render as one whole literal word. "
                    "Exit status as for review.",
    )
    lint.add_argument("dirs", nargs="+", metavar="DIR", help="directories of *.j2 templates")
    add_gate_options(lint)
    lint.set_defaults(handler=_run_lint)


def _run_review(args: argparse.Namespace) -> int:
    from ..review.runner import review_paths
    from ..shell import Policy

    policy = widened(Policy.default(), args.allow_program)
    fail_on(args)  # a bad --fail-on is a usage error before anything is read
    report = review_paths(args.paths, policy, stdin_type=args.stdin_type,
                          no_ignore=args.no_ignore)
    return emit(args, report.findings, report.files)


def _run_lint(args: argparse.Namespace) -> int:
    from ..review.templates import lint_directories

    fail_on(args)
    findings, count = lint_directories(args.dirs)
    return emit(args, findings, count)
