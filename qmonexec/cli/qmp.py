"""``qmonexec qmp``: send one QMP command to a running QEMU and print the reply as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InputError
from .programs import ALLOW_HELP, widened

DESCRIPTION = """\
Connect to QEMU's QMP socket, negotiate, run COMMAND once and print its return
value as JSON (a one-shot qmp-shell).  Arguments are one JSON object, or
key=value pairs whose value is read as JSON when it is valid JSON (numbers,
true/false, null, objects, lists, quoted strings) and as a plain string
otherwise.  exec: URIs must pass the validator's default policy, as with the
library; --allow-program widens it by one program name at a time.

exit status: 0 success; 1 QEMU answered with an error (class and description
on stderr) or the exec: URI is unsafe; 2 bad input; 3 connection or protocol
failure, or timeout.
"""

EPILOG = """\
examples:
  qmonexec qmp --qmp /run/vm/qmp.sock query-status
  qmonexec qmp --qmp 127.0.0.1:4444 migrate-set-parameters max-bandwidth=10000000000
  qmonexec qmp --qmp /run/vm/qmp.sock migrate-set-capabilities \\
      '{"capabilities": [{"capability": "events", "state": true}]}'
"""


def register(subparsers: Any) -> None:
    """Add the ``qmp`` subcommand."""
    parser = subparsers.add_parser(
        "qmp",
        help="send one QMP command to QEMU and print the reply",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--qmp",
        required=True,
        metavar="SOCKET",
        help="QMP socket: a Unix socket path or HOST:PORT",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="limit for connecting and for the reply (default: 30)",
    )
    parser.add_argument("--compact", action="store_true", help="print the reply on one line")
    parser.add_argument(
        "--allow-program",
        action="append",
        default=[],
        metavar="PROGRAM",
        help="validate exec: URIs with the default policy plus this program: " + ALLOW_HELP,
    )
    parser.add_argument("name", metavar="COMMAND", help="QMP command, e.g. query-status")
    parser.add_argument(
        "arguments",
        nargs="*",
        metavar="ARG",
        help="one JSON object, or key=value pairs",
    )
    parser.set_defaults(handler=run)


def parse_arguments(words: list[str]) -> dict[str, Any] | None:
    """Turn the command-line words into a QMP ``arguments`` object (``None`` when empty)."""
    if not words:
        return None
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        try:
            value = json.loads(words[0])
        except ValueError as exc:
            raise InputError(f"the JSON arguments are not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise InputError("the JSON arguments must be an object")
        return value
    result: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise InputError(
                f"argument {word!r} is not key=value; give key=value pairs or one JSON object"
            )
        if key in result:
            raise InputError(f"argument {key!r} is given twice")
        try:
            result[key] = json.loads(text)
        except ValueError:
            result[key] = text
    return result


def run(args: argparse.Namespace) -> int:
    """Handler: connect, run the command, print the reply; errors propagate to ``main``."""
    from ..qmp.client import QMPClient

    arguments = parse_arguments(args.arguments)
    timeout = args.timeout  # QMPClient refuses a non-positive or infinite value (InputError)
    from ..shell import Policy

    policy = widened(Policy.default(), args.allow_program)
    with QMPClient(args.qmp, timeout=timeout, connect_timeout=timeout, policy=policy) as client:
        result = client.execute(args.name, arguments)
    if args.compact:
        text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(result, ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")
    return 0
