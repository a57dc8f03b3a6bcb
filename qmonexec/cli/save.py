"""``qmonexec save``, ``qmonexec restore`` and ``qmonexec inspect``: VM images behind a header."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..vocabulary import (
    AFTER_RESTORE,
    AFTER_SAVE,
    COMPRESSORS,
    PROFILE_NAMES,
    RAW,
    spoken,
)
from .progress import bytes_text as _bytes
from .progress import display as _display
from .uri import PROFILE_HELP, cli_compression, command_words, size

TRANSPORT_NAMES = ("auto", "exec", "fd", "file")

_FORMATS = f"{RAW} (default), {spoken(COMPRESSORS)}"

if TYPE_CHECKING:
    from ..save.image import ImageHeader

SAVE_DESCRIPTION = """\
Save the VM behind a QMP socket into TARGET: a qmonexec header, then the
migration stream (optionally compressed).  Success is reported only after QEMU
said 'completed', every stage (the exec: pipeline's, or the compressor qmonexec
runs itself with --transport fd) exited with status 0, and the file was
fsync'ed; only then is the header marked complete.  On any failure the
migration is cancelled, the failing stage is named, and the header stays
marked incomplete so the image can never be restored by mistake.

The image is written to a temporary file beside TARGET and renamed over it
only once proven: a failed or interrupted save leaves an older TARGET intact.
A second save of the same VM or into the same TARGET fails at once.

exit status: 0 saved; 1 the save failed (the stage is named); 2 bad input;
3 connection or protocol failure; 130/143/129 interrupted by SIGINT/SIGTERM/
SIGHUP (migration cancelled, nothing replaced).
"""

SAVE_EPILOG = """\
examples:
  qmonexec save --qmp /run/vm/qmp.sock /var/lib/vm/web1.img --compress zstd
  qmonexec save --qmp /run/vm/qmp.sock /var/lib/vm/web1.img --metadata '{"vm": "web1"}' \\
      --then quit
  qmonexec save --qmp /run/vm/qmp.sock /var/lib/vm/web1.img --profile libvirt   # unproven

The source QEMU needs nothing special.  See docs/save-restore.md.
"""

RESTORE_DESCRIPTION = """\
Load an image written by 'qmonexec save', or by 'virsh save', into a QEMU
started with the same machine options as the source plus '-incoming defer'
(add -S to keep the guest paused until the restore is done; 'qmonexec inspect
--cmdline' prints such a command line).  The header chooses the offset and the
decompressor; images whose header is still marked incomplete, or whose size
does not match the recorded stream length, are refused before QEMU is asked,
and so is a destination whose machine type or RAM size differs from the saved
source's (--force loads anyway).  Afterwards the VM runs or stays paused as
the source did (--then).  For an image with a header of your own, give
--offset (and --decompress).

exit status: 0 restored; 1 QEMU failed to load the image; 2 bad input (bad or
truncated image, a destination that does not match, QEMU not waiting with
-incoming defer); 3 connection failure; 130/143/129 interrupted by SIGINT/
SIGTERM/SIGHUP (the half-loaded destination QEMU is stopped).
"""

RESTORE_EPILOG = """\
examples:
  qemu-system-x86_64 -machine pc,accel=kvm -m 2048 ... -S -incoming defer \\
      -qmp unix:/run/vm/dst.sock,server=on,wait=off &
  qmonexec restore --qmp /run/vm/dst.sock /var/lib/vm/web1.img
  qmonexec restore --qmp /run/vm/dst.sock /var/lib/vm/own.img --offset 8192 --decompress gzip
"""


def _metadata(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--metadata is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('--metadata must be a JSON object, e.g. {"vm": "web1"}')
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _path(text: str) -> str:
    return text


def register(subparsers: Any) -> None:
    """Add the ``save``, ``restore`` and ``inspect`` commands."""
    _register_save(subparsers)
    _register_restore(subparsers)
    _register_inspect(subparsers)


def _register_save(subparsers: Any) -> None:
    save = subparsers.add_parser(
        "save", help="save a VM into an image file behind a header (proven on disk)",
        description=SAVE_DESCRIPTION, epilog=SAVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    save.add_argument("--qmp", required=True, metavar="SOCKET", help="the source's QMP socket")
    save.add_argument("target", metavar="TARGET", type=_path, help="absolute path of the image")
    group = save.add_mutually_exclusive_group()
    group.add_argument("--compress", metavar="NAME", default=None, help=_FORMATS)
    group.add_argument("--compress-cmd", metavar="CMD", type=command_words,
                       help="custom compressor, split on spaces, e.g. 'pigz -c' (its program "
                            "is allowed in the pipeline; the header records PROGRAM -dc for "
                            "information only)")
    save.add_argument("--metadata", metavar="JSON", type=_metadata,
                      help="a JSON object stored in the header")
    save.add_argument("--header-file", metavar="FILE",
                      help="raw mode: write this file's bytes (padded to a block multiple) as "
                           "the header instead of a qmonexec header")
    save.add_argument("--bandwidth", metavar="BYTES/S", type=size, default=None,
                      help="max-bandwidth during the save (default: unlimited, 1T); the "
                           "previous value is restored afterwards")
    save.add_argument("--then", choices=AFTER_SAVE, default=AFTER_SAVE[0],
                      help="the VM after a successful save: pause (default: stays paused in "
                           "postmigrate), resume, or quit QEMU")
    save.add_argument("--timeout", metavar="S", type=_seconds, default=None,
                      help="give up (and cancel) after S seconds (default: no limit)")
    save.add_argument("--profile", default=PROFILE_NAMES[0], metavar="NAME[@VERSION]",
                      help=PROFILE_HELP + "; default saves with stage status, success proven; "
                           "libvirt's exact string records none: success CANNOT be proven")
    save.add_argument("--block-size", metavar="BYTES", type=size, default=4096,
                      help="the header is padded to a multiple of this (default 4096)")
    _transport_options(save, "save")
    save.add_argument("--direct-io", action="store_true",
                      help="with --parallel: the channels write with O_DIRECT (QEMU 9.1+; "
                           "the file system must support it; tmpfs on older kernels does not)")
    save.add_argument("--no-cmdline", action="store_true",
                      help="do not record the source QEMU's command line in the header")
    save.add_argument("--keep-partial", action="store_true",
                      help="on failure keep the temporary file (named in the message)")
    save.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    save.set_defaults(handler=_save)


def _register_restore(subparsers: Any) -> None:
    restore = subparsers.add_parser(
        "restore", help="restore a saved image into a QEMU started with -incoming defer",
        description=RESTORE_DESCRIPTION, epilog=RESTORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    restore.add_argument("--qmp", required=True, metavar="SOCKET",
                         help="the destination's QMP socket")
    restore.add_argument("source", metavar="SOURCE", type=_path, help="absolute path of the image")
    restore.add_argument("--then", choices=AFTER_RESTORE, default=AFTER_RESTORE[0],
                         help="the VM after the restore: as-saved (default: the run state the "
                              "image records; resume when it records none), pause or resume")
    restore.add_argument("--force", action="store_true",
                         help="load even if the destination's machine type or RAM size differs "
                              "from the saved source's")
    restore.add_argument("--offset", metavar="BYTES", type=size, default=None,
                         help="raw image: where the stream starts (skips the header checks)")
    group = restore.add_mutually_exclusive_group()
    group.add_argument("--compress", "--decompress", dest="compress", metavar="NAME",
                       default=None, help=f"raw image (with --offset): {_FORMATS}")
    group.add_argument("--decompress-cmd", metavar="CMD", type=command_words,
                       help="custom decompressor, split on spaces, e.g. 'pigz -dc': for a "
                            "raw image (with --offset) or a header that records a custom "
                            "compressor")
    restore.add_argument("--timeout", metavar="S", type=_seconds, default=None,
                         help="give up after S seconds (default: no limit)")
    _transport_options(restore, "restore")
    restore.add_argument("--direct-io", action="store_true",
                         help="for an image saved with --parallel: its channels read with "
                              "O_DIRECT (QEMU 9.1+; the file system must support it; tmpfs "
                              "on older kernels does not)")
    restore.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    restore.set_defaults(handler=_restore)


def _register_inspect(subparsers: Any) -> None:
    inspect = subparsers.add_parser(
        "inspect", help="print the header of a saved image",
        description="Print the header of an image: for a qmonexec image its state (complete "
                    "or partial), offset, compression, sizes, QEMU version, the source VM "
                    "(run state, machine, RAM, command line) and user metadata; for a libvirt "
                    "save image (virsh save) its format and the domain's name, memory and "
                    "machine.  Exit status 0 for a complete, intact image; 1 for a partial or "
                    "truncated one; 2 when the file is not a readable image.")
    inspect.add_argument("file", metavar="FILE", type=_path)
    inspect.add_argument("--json", action="store_true", help="print the header as JSON")
    inspect.add_argument("--offset", metavar="BYTES", type=size, default=None,
                         help="an image with a header of your own: where the stream starts "
                              "(checks that a stream of the --compress format starts there)")
    inspect.add_argument("--compress", metavar="NAME", default=None,
                         help=f"with --offset: the stream's format, {_FORMATS}")
    inspect.add_argument("--cmdline", action="store_true",
                         help="print the source QEMU's command line as a destination needs it "
                              "(monitors, -incoming, -daemonize, -pidfile removed; -S "
                              "-incoming defer added): add a -qmp socket and run it")
    inspect.set_defaults(handler=_inspect)


def _channels(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of channels: {text!r}") from None


def _transport_options(parser: Any, verb: str) -> None:
    parser.add_argument(
        "--transport", choices=TRANSPORT_NAMES, default="auto",
        help="how QEMU gets the stream: auto (default: an open file passed over the QMP "
             "socket when QEMU and the socket allow it, else exec), exec (the shell "
             "pipeline), fd (getfd + fd:), file (add-fd + file:, QEMU 9.1+, raw only); "
             "see docs/save-restore.md")
    parser.add_argument(
        "--parallel", metavar="N", type=_channels, default=None,
        help=("write the mapped-ram layout with N multifd channels (QEMU 9.1+, raw only)"
              if verb == "save" else
              "channels for an image saved with --parallel (default: as saved)"))


# --------------------------------------------------------------------------- handlers

@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so a killed save still cancels.

    Without this, closing the terminal or ``kill`` would leave QEMU migrating
    into a file nobody watches, and the status directory behind.
    """
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_name(exc: KeyboardInterrupt) -> str:
    """The signal named among ``exc``'s arguments (a restore adds its message first)."""
    names = [a for a in exc.args if isinstance(a, str) and a in signal.Signals.__members__]
    return names[0] if names else "SIGINT"


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The shell's exit status for a command ended by the signal behind ``exc``: 128 + its
    number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    return 128 + int(signal.Signals[_signal_name(exc)])


def _save(args: argparse.Namespace) -> int:
    from ..save import save

    header_bytes = None
    if args.header_file is not None:
        if args.metadata is not None:
            raise InputError("--metadata goes into the qmonexec header; with --header-file "
                             "put it in your own header")
        try:
            with open(args.header_file, "rb") as handle:
                header_bytes = handle.read(64 << 20)
        except OSError as exc:
            raise InputError(f"cannot read --header-file {args.header_file!r}: "
                             f"{exc.strerror}") from None
    compress = cli_compression(args.compress, args.compress_cmd, "--compress-cmd")
    display = _display(args.quiet)
    kwargs: dict[str, Any] = {}
    if args.bandwidth is not None:
        kwargs["bandwidth"] = args.bandwidth
    try:
        with _signals_interrupt():
            result = save(args.qmp, args.target, compress=compress,
                          metadata=args.metadata, then=args.then, timeout=args.timeout,
                          profile_name=args.profile, header_bytes=header_bytes,
                          block_size=args.block_size, progress=display,
                          transport=args.transport, parallel=args.parallel,
                          direct_io=args.direct_io, record_cmdline=not args.no_cmdline,
                          keep_partial=args.keep_partial, **kwargs)
    except KeyboardInterrupt as exc:
        if display is not None:
            display.close()
        print(f"qmonexec: save interrupted ({_signal_name(exc)}): the migration was cancelled "
              f"and {args.target!r} was not replaced", file=sys.stderr)
        return interrupted_status(exc)
    finally:
        if display is not None:
            display.close()
    if result.note:
        print(f"qmonexec: note: {result.note}", file=sys.stderr)
    rate = result.stream_length / result.seconds if result.seconds > 0 else 0.0
    print(f"saved {result.file_size} bytes to {_printable(args.target)} ({result.offset} header + "
          f"{result.stream_length} stream) in {result.seconds:.2f} s ({_bytes(rate)}/s); "
          f"VM now {result.vm_status}")
    if not result.verified:
        print("warning: the libvirt profile records no stage status, so qmonexec cannot prove "
              "every pipeline stage exited 0 or that the file is complete; use the default "
              "profile for a proven save", file=sys.stderr)
    return 0


def _printable(path: str) -> str:
    """``path`` for the terminal: bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _restore(args: argparse.Namespace) -> int:
    from ..save import restore
    from ..save.destination import MismatchError
    from ..save.image import ForeignFormatError
    from ..save.plan import CustomCompressorError

    if args.compress is not None and args.offset is None:
        raise InputError("--compress is for images without a qmonexec header; give --offset "
                         "too (a qmonexec header records its own format)")
    decompress = cli_compression(args.compress, args.decompress_cmd, "--decompress-cmd",
                                 decompress=True)
    display = _display(args.quiet)
    try:
        with _signals_interrupt():
            result = restore(args.qmp, args.source, offset=args.offset, decompress=decompress,
                             then=args.then, timeout=args.timeout, progress=display,
                             transport=args.transport, parallel=args.parallel,
                             force=args.force, direct_io=args.direct_io)
    except KeyboardInterrupt as exc:
        if display is not None:
            display.close()
        why = next((a for a in exc.args if isinstance(a, str) and " " in a),
                   "restore interrupted")
        print(f"qmonexec: {why} ({_signal_name(exc)})", file=sys.stderr)
        return interrupted_status(exc)
    except MismatchError as exc:
        raise InputError(f"{exc.reason}; to load anyway, add --force") from None
    except CustomCompressorError as exc:
        raise InputError(f"{args.source!r} was compressed with a custom program; qmonexec "
                         "never runs a program named by a file: give the decompressor with "
                         f"--decompress-cmd '{' '.join(exc.recorded)}' if you trust it") from None
    except ForeignFormatError as exc:
        raise InputError(f"{exc}{_OWN_HEADER_HINT}") from None
    finally:
        if display is not None:
            display.close()
    if result.note:
        print(f"qmonexec: note: {result.note}", file=sys.stderr)
    print(f"restored {_printable(args.source)} ({result.compression}, stream at byte "
          f"{result.offset}) in {result.seconds:.2f} s; VM now {result.vm_status}")
    return 0


def _show_header(header: ImageHeader, size: int) -> str:
    info = header.describe()
    lines = [f"{'state':14} {info['state']}" + ("" if header.complete else
                                                 "  (save unfinished or failed: not restorable)")]
    for key in ("version", "offset", "block_size", "compression", "decompress", "stream_length",
                "verified", "created", "completed", "seconds", "qemu_version", "qemu_package",
                "profile", "tool"):
        value = info.get(key)
        if value is None:
            continue
        if key == "decompress":
            value = " ".join(value)
        lines.append(f"{key:14} {value}")
    lines.append(f"{'file_size':14} {size}")
    if header.metadata is not None:
        lines.append(f"{'metadata':14} {json.dumps(header.metadata, sort_keys=True)}")
    lines.extend(_show_source(header.source))
    return "\n".join(lines)


def _show_source(source: dict[str, Any] | None) -> list[str]:
    """The recorded source VM, one field a line (nothing for a version 1 header)."""
    if not isinstance(source, dict):
        return []
    lines = []
    running = source.get("running")
    state = {True: "running", False: "paused"}.get(running) if isinstance(running, bool) else None
    status = source.get("status")
    if state or status:
        lines.append(f"{'source_state':14} {state or '?'} ({status or '?'})")
    for key, label in (("machine", "source_machine"), ("ram_size", "source_ram"),
                       ("qemu_version", "source_qemu")):
        value = source.get(key)
        if value is not None:
            shown = f"{value} ({_bytes(value)})" if key == "ram_size" else value
            lines.append(f"{label:14} {shown}")
    argv = source.get("argv")
    lines.append(f"{'source_argv':14} " + (f"{len(argv)} words recorded (inspect --cmdline)"
                                          if isinstance(argv, list) else "not recorded"))
    return lines


def _print_cmdline(header: ImageHeader) -> int:
    from ..quoting import quote_words
    from ..save.cmdline import destination_argv

    argv = header.source.get("argv") if isinstance(header.source, dict) else None
    if not isinstance(argv, list) or not all(isinstance(w, str) for w in argv) or not argv:
        raise InputError("the image records no command line of its source QEMU (the save was "
                         "told not to record it, the QMP peer was not a QEMU process, or the "
                         "image predates header format version 2)")
    print(quote_words(destination_argv(argv)))
    return 0


#: What restore and inspect add to "not a qmonexec image": their own options for that case.
_OWN_HEADER_HINT = ("; for a stream behind a header of your own (or none), give --offset N "
                    "and --compress NAME")

#: How each stream format starts: a QEMU migration stream, and the compressors' magic.
_STREAM_MAGIC = {RAW: b"QEVM", "gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00",
                 "lzop": b"\x89LZO", "zstd": b"\x28\xb5\x2f\xfd"}


def _inspect_own(args: argparse.Namespace) -> int:
    """An image with a header of the user's own: does a stream of the format start there?"""
    fmt = args.compress or RAW
    if fmt not in _STREAM_MAGIC:
        raise InputError(f"unknown compression format {fmt!r}; --compress takes "
                         f"{', '.join(_STREAM_MAGIC)}")
    try:
        with open(args.file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(args.offset)
            start = handle.read(8)
    except OSError as exc:
        raise InputError(f"cannot read {args.file!r}: {exc.strerror}") from None
    expected = _STREAM_MAGIC[fmt]
    problem = None
    if size <= args.offset:
        problem = f"the file is {size} bytes long: no stream after byte {args.offset}"
    elif not start.startswith(expected):
        found = [name for name, magic in _STREAM_MAGIC.items() if start.startswith(magic)]
        problem = (f"the bytes at {args.offset} are not the start of a {fmt} stream"
                   + (f" (they look like {found[0]})" if found else ""))
    info = {"format": "own header", "offset": args.offset, "compression": fmt,
            "file_size": size, "stream_length": max(size - args.offset, 0), "problem": problem}
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        for key, value in info.items():
            if value is not None:
                print(f"{key:14} {value}")
    return 0 if problem is None else 1


def _inspect_libvirt(args: argparse.Namespace) -> int:
    from ..save.libvirt_image import read_libvirt

    image = read_libvirt(args.file)
    if args.cmdline:
        raise InputError("a libvirt save image records the domain XML, not a QEMU command "
                         "line; start the destination the way libvirt would, from that XML")
    info = image.describe()
    if args.json:
        print(json.dumps({**info, "xml": image.xml}, indent=2, sort_keys=True))
    else:
        print(f"{'state':14} {info['state']}" + ("" if image.complete else
                                                   "  (libvirt's save unfinished or failed)"))
        for key, value in info.items():
            if key != "state" and value is not None:
                shown = f"{value} ({_bytes(value)})" if key == "memory" else value
                print(f"{key:14} {shown}")
    return 0 if image.complete else 1


def _inspect(args: argparse.Namespace) -> int:
    from ..save.image import ForeignFormatError, ImageError, check_stream, read_header
    from ..save.libvirt_image import is_libvirt

    if args.compress is not None and args.offset is None:
        raise InputError("--compress describes a stream at --offset; give --offset too (a "
                         "qmonexec header records its own format)")
    if args.offset is not None:
        return _inspect_own(args)
    if is_libvirt(args.file):
        return _inspect_libvirt(args)
    try:
        header = read_header(args.file, require_complete=False, check_size=False)
    except ForeignFormatError as exc:
        raise InputError(f"{exc}{_OWN_HEADER_HINT}") from None
    if args.cmdline:
        return _print_cmdline(header)
    try:
        file_size = os.stat(args.file).st_size
    except OSError as exc:
        raise InputError(f"cannot read {args.file!r}: {exc.strerror}") from None
    problem = None
    try:
        check_stream(header, file_size, path=args.file)
    except ImageError as exc:
        problem = str(exc)
    if args.json:
        info = {**header.describe(), "file_size": file_size, "problem": problem}
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(_show_header(header, file_size))
        if problem:
            print(f"{'problem':14} {problem}")
    return 0 if header.complete and problem is None else 1
