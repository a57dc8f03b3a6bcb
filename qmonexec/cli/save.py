"""``qmonexec save``, ``qmonexec restore`` and ``qmonexec inspect``: VM images behind a header."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import InputError
from ..vocabulary import (
    AFTER_RESTORE,
    AFTER_SAVE,
    COMPRESSORS,
    PROFILE_NAMES,
    RAW,
    STATUS_COMPLETED,
    spoken,
)
from .uri import PROFILE_HELP, size

_FORMATS = f"{RAW} (default), {spoken(COMPRESSORS)}"

if TYPE_CHECKING:
    from ..save import Progress
    from ..save.image import ImageHeader

SAVE_DESCRIPTION = """\
Save the VM behind a QMP socket into TARGET: a qmonexec header, then the
migration stream (optionally compressed).  Success is reported only after QEMU
said 'completed', every stage of the exec: pipeline recorded exit status 0,
and the file was fsync'ed; only then is the header marked complete.  On any
failure the migration is cancelled, the failing stage is named, and the
header stays marked incomplete so the image can never be restored by mistake.

exit status: 0 saved; 1 the save failed (the stage is named); 2 bad input;
3 connection or protocol failure; 130 interrupted (migration cancelled).
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
Load an image written by 'qmonexec save' into a QEMU started with the same
machine options as the source plus '-incoming defer' (add -S to keep the guest
paused until the restore is done).  The header chooses the offset and the
decompressor; images whose header is still marked incomplete, or whose size
does not match the recorded stream length, are refused before QEMU is asked.
For an image with a header of your own, give --offset (and --decompress).

exit status: 0 restored; 1 QEMU failed to load the image; 2 bad input (bad or
truncated image, QEMU not waiting with -incoming defer); 3 connection failure.
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
    save = subparsers.add_parser(
        "save", help="save a VM into an image file behind a header (proven on disk)",
        description=SAVE_DESCRIPTION, epilog=SAVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    save.add_argument("--qmp", required=True, metavar="SOCKET", help="the source's QMP socket")
    save.add_argument("target", metavar="TARGET", type=_path, help="absolute path of the image")
    save.add_argument("--compress", metavar="NAME", default=None,
                      help=_FORMATS)
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
    save.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    save.set_defaults(handler=_save)

    restore = subparsers.add_parser(
        "restore", help="restore a saved image into a QEMU started with -incoming defer",
        description=RESTORE_DESCRIPTION, epilog=RESTORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    restore.add_argument("--qmp", required=True, metavar="SOCKET",
                         help="the destination's QMP socket")
    restore.add_argument("source", metavar="SOURCE", type=_path, help="absolute path of the image")
    restore.add_argument("--then", choices=AFTER_RESTORE, default="resume",
                         help="the VM after the restore: resume (default) or pause")
    restore.add_argument("--offset", metavar="BYTES", type=size, default=None,
                         help="raw image: where the stream starts (skips the header checks)")
    restore.add_argument("--decompress", metavar="NAME", default=None,
                         help=f"raw image: {_FORMATS}")
    restore.add_argument("--timeout", metavar="S", type=_seconds, default=None,
                         help="give up after S seconds (default: no limit)")
    restore.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    restore.set_defaults(handler=_restore)

    inspect = subparsers.add_parser(
        "inspect", help="print the header of a saved image",
        description="Print the qmonexec header of an image: state (complete or partial), "
                    "offset, compression, sizes, QEMU version, user metadata.  Exit status 0 "
                    "for a complete, intact image; 1 for a partial or truncated one; 2 when "
                    "the file is not a readable qmonexec image.")
    inspect.add_argument("file", metavar="FILE", type=_path)
    inspect.add_argument("--json", action="store_true", help="print the header as JSON")
    inspect.set_defaults(handler=_inspect)


# --------------------------------------------------------------------------- progress

def _bytes(count: float | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(report: Progress) -> str:
    """One line describing ``report`` (what the TTY display shows)."""
    if report.phase == "flush":
        return (f"saved {_bytes(report.total)} of RAM; waiting for the pipeline to finish "
                f"writing ({_bytes(report.on_disk)} on disk)  {_duration(report.elapsed)}")
    verb = "saving" if report.phase == "migrate" else "restoring"
    parts = [f"{verb} [{'starting' if report.status == 'none' else report.status}]"]
    if report.done is not None and report.total:
        percent = 100.0 * report.done / report.total
        parts.append(f"{_bytes(report.done)} / {_bytes(report.total)} ({percent:3.0f}%)")
    elif report.total:
        parts.append(f"image {_bytes(report.total)}")
    if report.sent is not None:
        parts.append(f"sent {_bytes(report.sent)}")
    if report.rate is not None:
        parts.append(f"{_bytes(report.rate)}/s")
    if report.eta is not None and report.status != STATUS_COMPLETED:
        parts.append(f"ETA {_duration(report.eta)}")
    parts.append(f"elapsed {_duration(report.elapsed)}")
    return "  ".join(parts)


class ProgressDisplay:
    """Redraws one status line on a terminal (``\\r`` + clear to end of line), at most 5 Hz."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self.last = 0.0
        self.state: tuple[str, str] = ("", "")

    def __call__(self, report: Progress) -> None:
        now = time.monotonic()
        state = (report.phase, report.status)
        if now - self.last < 0.2 and self.shown and state == self.state:
            return
        self.last, self.state = now, state
        width = 0
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        line = progress_line(report)
        if width > 1:
            line = line[: width - 1]
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the status line so that what follows starts on a new line."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _display(quiet: bool) -> ProgressDisplay | None:
    if quiet or not sys.stderr.isatty():
        return None
    return ProgressDisplay(sys.stderr)


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
    display = _display(args.quiet)
    kwargs: dict[str, Any] = {}
    if args.bandwidth is not None:
        kwargs["bandwidth"] = args.bandwidth
    try:
        with _signals_interrupt():
                result = save(args.qmp, args.target, compress=args.compress,
                          metadata=args.metadata, then=args.then, timeout=args.timeout,
                          profile_name=args.profile, header_bytes=header_bytes,
                          block_size=args.block_size, progress=display, **kwargs)
    except KeyboardInterrupt:
        if display is not None:
            display.close()
        print(f"qmonexec: save interrupted: the migration was cancelled and {args.target!r} is "
              "still marked incomplete", file=sys.stderr)
        return 130
    finally:
        if display is not None:
            display.close()
    rate = result.stream_length / result.seconds if result.seconds > 0 else 0.0
    print(f"saved {result.file_size} bytes to {args.target} ({result.offset} header + "
          f"{result.stream_length} stream) in {result.seconds:.2f} s ({_bytes(rate)}/s); "
          f"VM now {result.vm_status}")
    if not result.verified:
        print("warning: the libvirt profile records no stage status, so qmonexec cannot prove "
              "every pipeline stage exited 0 or that the file is complete; use the default "
              "profile for a proven save", file=sys.stderr)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from ..save import restore

    if args.decompress is not None and args.offset is None:
        raise InputError("--decompress is for images without a qmonexec header; give --offset "
                         "too (a qmonexec header records its own format)")
    display = _display(args.quiet)
    try:
        result = restore(args.qmp, args.source, offset=args.offset, decompress=args.decompress,
                         then=args.then, timeout=args.timeout, progress=display)
    finally:
        if display is not None:
            display.close()
    print(f"restored {args.source} ({result.compression}, stream at byte {result.offset}) in "
          f"{result.seconds:.2f} s; VM now {result.vm_status}")
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
    return "\n".join(lines)


def _inspect(args: argparse.Namespace) -> int:
    from ..save.image import ImageError, check_stream, read_header

    header = read_header(args.file, require_complete=False, check_size=False)
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
