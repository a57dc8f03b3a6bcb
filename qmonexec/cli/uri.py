"""``qmonexec uri``: render a migration destination and print it in a monitor's form."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..limits import DD_MAX_BYTES
from ..spec import PROFILE_VERSIONS, PROFILES
from ..vocabulary import COMPRESSORS, RAW
from .programs import ALLOW_HELP, widened

if TYPE_CHECKING:
    from ..build import Built
    from ..spec import Compression

FORMATS = ("uri", "qmp", "hmp", "virsh", "channels")

_EXAMPLES = """\
examples:
  qmonexec uri save /var/lib/vm/guest.img --offset 8192 --compress gzip
  qmonexec uri save /var/lib/vm/guest.img --offset 8192 --profile libvirt --format hmp
  qmonexec uri restore /var/lib/vm/guest.img --offset 8192 --compress gzip --format qmp
  qmonexec uri save /var/lib/vm/guest.img --format virsh --domain guest1
  qmonexec uri command -- /usr/bin/tee /tmp/stream
  qmonexec uri command --allow-program pigz -- pigz -c
"""

#: Warnings a profile is known to earn, not repeated on every call: asking for libvirt's
#: exact form means asking for its equal ibs/obs (the README explains the cost).
_EXPECTED_WARNINGS = {"libvirt": frozenset({"dd-block-sizes"})}

#: The help of every --profile option (uri save/restore, save).
PROFILE_HELP = ("default (ours, see README), libvirt (libvirt's exact form), or a pinned "
                 f"version that never changes: {', '.join(PROFILE_VERSIONS)} (default: the "
                 f"current version of default, {PROFILES['default'].id}; see CHANGELOG.md)")

_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size(text: str) -> int:
    """Parse a byte count: digits with an optional K, M, G or T suffix (powers of 1024)."""
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    digits = raw.rstrip("kmgt")
    suffix = raw[len(digits):]
    if not digits.isdigit() or not digits.isascii() or suffix not in _SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a byte count; write digits with an optional K, M or G suffix, "
            "e.g. 8192 or 8K"
        )
    value = int(digits) * _SUFFIXES[suffix]
    if value > DD_MAX_BYTES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is {value} bytes, more than dd accepts (2^63 - 1 = {DD_MAX_BYTES}); "
            "give a smaller size"
        )
    return value


def command_words(text: str) -> list[str]:
    """Split a --compress-cmd value on spaces; quotes are refused, not interpreted."""
    for char in "'\"\\":
        if char in text:
            raise argparse.ArgumentTypeError(
                f"{text!r}: the command is split on spaces, not parsed as shell, so {char} "
                "would be passed literally; give words without quotes or backslashes"
            )
    words = text.split()
    if not words:
        raise argparse.ArgumentTypeError("the command is empty; give a program and its options")
    return words


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="uri",
                        help="uri: the bare exec: URI (default); qmp: compact QMP JSON; "
                             "hmp: a human-monitor line; virsh: a virsh qemu-monitor-command "
                             "line; channels: QMP JSON with an exec channel whose argv runs "
                             "without a shell (QEMU 8.2+, raw streams only)")
    parser.add_argument("--domain", metavar="NAME", help="libvirt domain name for --format virsh")


def _add_command_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--incoming", action="store_true",
                        help="render for migrate-incoming (the command writes the stream)")
    _add_output_options(parser)
    parser.add_argument("--allow-program", action="append", default=[], metavar="NAME",
                        help=ALLOW_HELP)


def register(subparsers: Any) -> None:
    """Add the ``uri`` command and its ``save``, ``restore`` and ``command`` subcommands."""
    uri = subparsers.add_parser(
        "uri", help="render an exec: migration URI (save, restore, command)",
        description="Render an exec: migration destination with correct quoting, validate it, "
                    "and print it as a URI, QMP JSON, an HMP line or a virsh line.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = uri.add_subparsers(dest="kind", metavar="KIND", parser_class=type(uri))
    kinds.required = True

    save = kinds.add_parser(
        "save", help="stream into a file at a byte offset, behind a header",
        description="exec:[COMPRESSOR |] { dd bs=BS seek=OFFSET/BS if=/dev/null && "
                    "dd ibs=IBS obs=OBS; } 1<>TARGET",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    save.add_argument("target", metavar="TARGET", help="absolute path of the image file")
    save.add_argument("--offset", type=size, default=0,
                      help="byte offset of the stream (header length), a multiple of the block "
                           "size (default 0)")
    group = save.add_mutually_exclusive_group()
    group.add_argument("--compress", metavar="NAME",
                       help=f"{', '.join(COMPRESSORS)} or {RAW} (default {RAW})")
    group.add_argument("--compress-cmd", metavar="CMD", type=command_words,
                       help="custom compressor, split on spaces, e.g. 'pigz -c'")
    save.add_argument("--profile", default="default", metavar="NAME[@VERSION]",
                      help=PROFILE_HELP)
    save.add_argument("--block-size", type=size, metavar="N",
                      help="unit of the offset (power of two, default 4096)")
    save.add_argument("--transfer-size", type=size, metavar="N",
                      help="bytes per write into the file, dd's obs (power of two; default "
                           "the profile's: 64K, libvirt 1M)")
    save.add_argument("--status-dir", metavar="DIR",
                      help="render the stage-status form: each stage records NAME.ok or "
                           "NAME.failed and NAME.err in DIR (absolute)")
    _add_output_options(save)
    save.set_defaults(handler=_run_save)

    restore = kinds.add_parser(
        "restore", help="read the stream back from a file at a byte offset",
        description="exec:dd if=SOURCE bs=BS skip=OFFSET/BS [| DECOMPRESSOR]",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument("source", metavar="SOURCE", nargs="?",
                         help="absolute path of the image file (optional with --from-image)")
    restore.add_argument("--offset", type=size,
                         help="byte offset of the stream, a multiple of the block size "
                              "(default 0)")
    group = restore.add_mutually_exclusive_group()
    group.add_argument("--compress", metavar="NAME",
                       help=f"format the image was compressed with: {', '.join(COMPRESSORS)}, "
                            f"{RAW}")
    group.add_argument("--decompress-cmd", metavar="CMD", type=command_words,
                       help="custom decompressor, split on spaces, e.g. 'pigz -dc'")
    restore.add_argument("--block-size", type=size, metavar="N",
                         help="unit of the offset and dd's read size (default: the profile's; "
                              "default@2 reads the largest power of two up to 64K dividing "
                              "the offset)")
    restore.add_argument("--profile", default="default", metavar="NAME[@VERSION]",
                         help=PROFILE_HELP)
    restore.add_argument("--from-image", metavar="PATH",
                         help="take the offset and compression from the header of the "
                              "qmonexec image at PATH (as qmonexec restore does); SOURCE "
                              "defaults to PATH")
    _add_output_options(restore)
    restore.set_defaults(handler=_run_restore)

    command = kinds.add_parser(
        "command", help="run an allowed program with the stream on stdin (or stdout with "
                   "--incoming): dd, cat, tee and the compressors, or one --allow-program names",
        description="exec:ARGV..., each word quoted",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_command_options(command)
    command.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- ARGV",
                         help="the program and its arguments, after --")
    command.set_defaults(handler=_run_command)


def _emit(args: argparse.Namespace, built: Built, incoming: bool) -> int:
    from .. import monitor

    uri = built.uri
    expected = _EXPECTED_WARNINGS.get(profile_family(getattr(args, "profile", "")), frozenset())
    for finding in built.verdict.findings:
        # Only warnings and notes reach here: errors made build_* raise.
        if finding.code.value in expected:
            continue
        print(f"qmonexec: {finding.severity.value}: {finding.code.value}: {finding.message}",
              file=sys.stderr)

    if args.domain is not None and args.format != "virsh":
        raise InputError("--domain is only used with --format virsh; drop it or add --format virsh")
    if args.format == "uri":
        sys.stdout.flush()
        sys.stdout.buffer.write(uri.encode("utf-8", "surrogateescape") + b"\n")
        sys.stdout.buffer.flush()
        return 0
    if args.format == "hmp":
        line = monitor.hmp_migrate_incoming(uri) if incoming else monitor.hmp_migrate(uri)
    else:
        cmd = monitor.migrate_incoming(uri) if incoming else monitor.migrate(uri)
        if args.format == "qmp":
            line = monitor.to_json(cmd)
        else:
            if not args.domain:
                raise InputError("--format virsh needs the libvirt domain: add --domain NAME")
            line = monitor.virsh_line(args.domain, cmd)
    print(line)
    return 0


def cli_compression(name: str | None, custom: list[str] | None, custom_option: str,
                    *, decompress: bool = False) -> Compression | None:
    """The compression of ``--compress NAME`` or of the custom command given with
    ``custom_option``; an unknown name's error names ``custom_option`` (a CLI option)."""
    from ..spec import Compression, compression

    if custom:
        return Compression.custom(custom, custom if decompress else None)
    try:
        return compression(name)
    except InputError as exc:
        message = str(exc).replace("Compression.custom(argv)", f"{custom_option} 'PROGRAM ARGS'")
        raise InputError(message, value=name) from None


def _run_save(args: argparse.Namespace) -> int:
    from ..build import build_save
    from ..spec import SaveSpec

    comp = cli_compression(args.compress, args.compress_cmd, "--compress-cmd")
    spec = SaveSpec(target=args.target, offset=args.offset, compression=comp,
                    profile=args.profile, block_size=args.block_size,
                    transfer_size=args.transfer_size, status_dir=args.status_dir)
    if args.format == "channels":
        from ..build import save_channel

        return _emit_channel(args, save_channel(spec), incoming=False)
    return _emit(args, build_save(spec), incoming=False)


def profile_family(name: str) -> str:
    """The profile name without its pinned version: ``default@1`` -> ``default``."""
    return name.partition("@")[0]


def _run_restore(args: argparse.Namespace) -> int:
    from ..build import build_restore
    from ..spec import RestoreSpec

    comp = cli_compression(args.compress, args.decompress_cmd, "--decompress-cmd",
                           decompress=True)
    if args.from_image is not None:
        from ..save.from_image import restore_spec_from_image

        for flag, value in (("--offset", args.offset), ("--compress", args.compress)):
            if value is not None:
                raise InputError(f"{flag} is read from the image header with --from-image; "
                                 f"drop {flag}")
        spec = restore_spec_from_image(args.from_image, source=args.source, decompress=comp,
                                       block_size=args.block_size, profile=args.profile)
    else:
        if args.source is None:
            raise InputError("no SOURCE given; name the image file, or read its header with "
                             "--from-image PATH")
        spec = RestoreSpec(source=args.source, offset=args.offset or 0, compression=comp,
                           block_size=args.block_size, profile=args.profile)
    if args.format == "channels":
        from ..build import restore_channel

        return _emit_channel(args, restore_channel(spec), incoming=True)
    return _emit(args, build_restore(spec), incoming=True)


def _emit_channel(args: argparse.Namespace, argv: list[str], incoming: bool) -> int:
    """Print the QMP command with one ``exec`` channel (QEMU 8.2+), checked like the client."""
    from .. import monitor
    from ..qmp.guard import check_command

    if args.domain is not None:
        raise InputError("--domain is only used with --format virsh; drop it")
    command = monitor.migrate_exec_channel(argv, incoming=incoming)
    check_command(command["execute"], command.get("arguments"))
    print(monitor.to_json(command))
    return 0


def _run_command(args: argparse.Namespace) -> int:
    from ..build import build_command
    from ..spec import CommandSpec

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise InputError("no command given; write it after --, e.g. qmonexec uri command -- tee /f")
    from ..shell import Policy

    policy = widened(Policy.command(), args.allow_program)
    return _emit(args, build_command(CommandSpec(tuple(argv)), policy), incoming=args.incoming)
