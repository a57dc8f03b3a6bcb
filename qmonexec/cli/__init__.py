"""The ``qmonexec`` command line.

Each subcommand lives in its own module under ``qmonexec.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``(args) -> int``.  Subcommand modules import heavy machinery inside
their handlers, so ``qmonexec --help`` and start-up stay fast.

Exit status: 0 success; 1 the answer is no (unsafe string, QEMU error);
2 bad input; 3 connection or protocol failure; 70 internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import QmonexecError

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("uri", "check", "review", "qmp", "save", "golden")

#: Which module registers each command.  When the first argument names one of
#: these, only that module is imported and registered (start-up time); any
#: other first argument (options, typos, a command missing here) gets the full
#: parser, so help and error messages are the same either way.
COMMAND_OWNERS: dict[str, str] = {
    "uri": "uri",
    "check": "check",
    "explain": "check",
    "review": "review",
    "lint-templates": "review",
    "qmp": "qmp",
    "save": "save",
    "restore": "save",
    "inspect": "save",
    "golden": "golden",
}

EPILOG = """\
examples:
  qmonexec uri save /var/lib/vm/guest.img --offset 8192 --compress gzip
  qmonexec uri save /var/lib/vm/guest.img --profile libvirt --format hmp
  qmonexec uri restore /var/lib/vm/guest.img --offset 8192 --compress gzip --format qmp
  qmonexec uri command -- /usr/bin/tee /tmp/out
  qmonexec review --output sarif src/ > qmonexec.sarif

Run 'qmonexec COMMAND --help' for the options of one command.
"""


class UsageError(QmonexecError):
    """Raised by argument parsing: bad command-line usage (exit status 2)."""

    exit_code = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered.

    With ``command`` (a key of :data:`COMMAND_OWNERS`), register only the
    module that defines it: enough to parse a command line that starts with
    that command, without importing the others.
    """
    parser = _Parser(
        prog="qmonexec",
        description="Build QEMU exec: migration commands, prove them safe, and run them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qmonexec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    owner = COMMAND_OWNERS.get(command) if command is not None else None
    for name in COMMAND_MODULES if owner is None else (owner,):
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (never raises for expected failures)."""
    try:
        args_list = list(sys.argv[1:] if argv is None else argv)
        first = args_list[0] if args_list else None
        args = build_parser(first).parse_args(args_list)
        status: int = args.handler(args)
        return status
    except SystemExit as exc:  # --help and --version end through argparse's exit()
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        print(f"{exc}", file=sys.stderr)
        return exc.exit_code
    except QmonexecError as exc:
        print(f"qmonexec: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qmonexec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        # A bug of ours: keep the promise of no traceback unless asked for one.
        if os.environ.get("QMONEXEC_DEBUG"):
            raise
        print(f"qmonexec: internal error: {type(exc).__name__}: {exc} "
              "(set QMONEXEC_DEBUG=1 for a traceback and please report it)", file=sys.stderr)
        return 70
