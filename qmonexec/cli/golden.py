"""``qmonexec golden``: golden files of rendered strings for projects without pytest.

``golden write CATALOGUE GOLDEN`` renders every case of a JSON catalogue into
GOLDEN (refusing to write when a case is unsafe); ``golden check CATALOGUE
GOLDEN`` exits 0 when every case renders byte-identical and safe, 1 with a
unified diff naming each changed or unsafe case, 2 on a bad catalogue.
"""

from __future__ import annotations

__all__ = ["register"]

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..golden import Golden

_EXAMPLES = """\
examples:
  qmonexec golden write tests/uris.json tests/uris.golden
  qmonexec golden check tests/uris.json tests/uris.golden

A catalogue is a JSON object {"cases": {NAME: CASE, ...}}; a case has the fields
kind (save|restore|command), target or argv, offset, block_size, transfer_size,
compression, compress_cmd or decompress_cmd, status_dir, profile (e.g. default@2),
format (uri|qmp|hmp|virsh), domain and incoming.  See docs/golden.md.
"""


def register(subparsers: Any) -> None:
    """Add the ``golden`` command and its ``write`` and ``check`` subcommands."""
    golden = subparsers.add_parser(
        "golden", help="write or check a golden file of rendered strings (no pytest needed)",
        description="Render every case of a JSON catalogue into golden blocks, and check "
                    "that they stay byte-identical and safe.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = golden.add_subparsers(dest="action", metavar="ACTION", parser_class=type(golden))
    actions.required = True
    for name, handler, text in (
        ("write", _run_write, "render the catalogue into GOLDEN (never an unsafe string)"),
        ("check", _run_check, "exit 0 when GOLDEN matches, 1 with a diff, 2 on bad input"),
    ):
        action = actions.add_parser(name, help=text, description=text, epilog=_EXAMPLES,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        action.add_argument("catalogue", metavar="CATALOGUE", help="the JSON catalogue")
        action.add_argument("golden", metavar="GOLDEN", help="the golden file of blocks")
        action.set_defaults(handler=handler)


def _render(catalogue: str) -> list[Golden]:
    from ..golden.catalogue import load_catalogue

    return [case.block() for case in load_catalogue(catalogue)]


def _report_unsafe(blocks: list[Golden]) -> bool:
    unsafe = [block for block in blocks if not block.ok]
    for block in unsafe:
        for problem in block.problems:
            print(f"qmonexec: unsafe: case {block.name!r}: {problem}", file=sys.stderr)
    return bool(unsafe)


def _run_write(args: argparse.Namespace) -> int:
    from ..golden.goldenfile import join_blocks

    blocks = _render(args.catalogue)
    if _report_unsafe(blocks):
        print(f"qmonexec: {args.golden} not written: fix the unsafe cases first",
              file=sys.stderr)
        return 1
    text = join_blocks(blocks)
    temporary = f"{args.golden}.tmp{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, args.golden)
    except OSError as exc:
        raise InputError(f"cannot write {args.golden!r}: {exc.strerror or exc}; check the "
                         "directory exists and is writable") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    print(f"qmonexec: wrote {len(blocks)} golden blocks to {args.golden}", file=sys.stderr)
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from ..golden.goldenfile import compare

    blocks = _render(args.catalogue)
    try:
        with open(args.golden, encoding="utf-8", newline="") as handle:
            stored = handle.read()
    except FileNotFoundError:
        raise InputError(f"{args.golden!r} does not exist; create it with "
                         f"qmonexec golden write {args.catalogue} {args.golden}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {args.golden!r}: {exc}") from None
    result = compare(blocks, stored, args.golden)
    sys.stdout.write(result.diff)
    for label, names in (("changed", result.changed), ("missing from the golden file",
                         result.missing), ("in the golden file but not the catalogue",
                         result.stale)):
        for name in names:
            print(f"qmonexec: {label}: case {name!r}", file=sys.stderr)
    _report_unsafe(blocks)
    if result.ok:
        print(f"qmonexec: {len(blocks)} cases match {args.golden}", file=sys.stderr)
        return 0
    print(f"qmonexec: {args.golden} does not match; review the diff, then accept it with "
          f"qmonexec golden write {args.catalogue} {args.golden}", file=sys.stderr)
    return 1
