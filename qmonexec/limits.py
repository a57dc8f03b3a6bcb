"""What QEMU, dd and the shells accept: monitor sizes and text, dd's offsets, special file names.

A leaf module (it imports nothing of qmonexec), shared by the quoting code,
the QMP client and the validator.  How each limit was measured:
docs/reference.md, sections 2 (QMP) and 3 (HMP).
"""

from __future__ import annotations

__all__ = [
    "DD_MAX_BYTES",
    "HMP_MAX_BYTES",
    "QMP_MAX_DEPTH",
    "QMP_MAX_MESSAGE",
    "QMP_TEXT_ADVICE",
    "QMP_UNCARRIED",
    "SHELL_MAX_BYTES",
    "SpecialPath",
    "normalise_path",
    "qmp_text_problem",
    "special_path",
]

import os
import re
from typing import NamedTuple

#: The largest byte count dd accepts for an offset (``seek``/``skip`` times the
#: block size): a signed 64-bit file offset.
DD_MAX_BYTES = 2**63 - 1
#: Linux refuses an execve argument longer than this (MAX_ARG_STRLEN - 1), so QEMU's
#: ``/bin/sh -c STRING`` cannot even start for a longer shell string.
SHELL_MAX_BYTES = 131071
#: QEMU's HMP parser copies a string argument into a 1024-byte buffer: longer strings are
#: cut to 1023 bytes without an error.
HMP_MAX_BYTES = 1023
#: QEMU's JSON parser refuses a message nested deeper than this, counting the command
#: object itself as level 1 (measured on QEMU 7.2: 1024 levels accepted, 1025 refused with
#: "JSON nesting depth limit exceeded").
QMP_MAX_DEPTH = 1024
#: QEMU refuses JSON messages larger than this (64 MiB), in both directions.
QMP_MAX_MESSAGE = 64 * 1024 * 1024

#: What to do about text QMP cannot carry.
QMP_TEXT_ADVICE = (
    "QMP can only carry valid UTF-8 text: use a path without such bytes "
    "(rename the file, or link to it from a UTF-8 name)"
)


def _is_noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


#: Matches exactly the characters :func:`qmp_text_problem` refuses (NUL, surrogates,
#: noncharacters), to find them in long strings without a Python loop per character.
QMP_UNCARRIED = re.compile(
    "[\x00\ud800-\udfff\ufdd0-\ufdef"
    + "".join(re.escape(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF))
              for plane in range(17))
    + "]"
)


def qmp_text_problem(ch: str) -> str | None:
    """Why the character ``ch`` cannot travel in a QMP string, or ``None`` when it can.

    QMP strings are UTF-8 JSON: no NUL (QEMU turns ``\\u0000`` into the bytes
    C0 80), no lone surrogates (how bytes that are not UTF-8 appear in a
    ``str`` decoded with ``surrogateescape``), no noncharacters.
    """
    cp = ord(ch)
    if cp == 0:
        return "a NUL character, which QEMU would turn into the bytes C0 80"
    if 0xDC80 <= cp <= 0xDCFF:
        return f"the byte 0x{cp - 0xDC00:02X}, which is not valid UTF-8"
    if 0xD800 <= cp <= 0xDFFF:
        return f"a lone surrogate U+{cp:04X}, which is not valid UTF-8"
    if _is_noncharacter(cp):
        return f"the noncharacter U+{cp:04X}, which QEMU's JSON parser rejects"
    return None


# ------------------------------------------------------------------ special file names
# A save target, a restore source, a redirection target and a dd ``if=``/``of=``
# operand must name an ordinary file.  Some names do not:
#
# * ``/dev/tcp/HOST/PORT`` and ``/dev/udp/HOST/PORT``: bash (in every mode) and
#   ksh93 open a network connection for a redirection to such a name, so
#   ``1<>/dev/tcp/10.0.0.1/9000`` sends the VM's memory over the network;
# * ``/dev/fd/N``, ``/dev/stdin``, ``/dev/stdout``, ``/dev/stderr``: the
#   descriptors of the pipeline itself (QEMU's pipe, the shell's stderr);
#   ``/dev/tty``: QEMU's controlling terminal, whatever file it is;
# * everything under ``/proc``: ``/proc/PID/fd/N``, ``/proc/self/fd/N``,
#   ``/proc/PID/task/TID/fd/N`` and ``/proc/thread-self/fd/N`` alias
#   descriptors too, and ``/proc/PID/root`` or ``/proc/PID/cwd`` lead back into
#   the file system through another process, past any rule about the rest of
#   the name.  No save or restore has a reason to touch ``/proc``.
#
# Names are compared after lexical normalisation (``//``, ``/./`` and ``/../``
# collapse, as the kernel resolves them), so ``/dev//tcp/h/p`` and
# ``/tmp/../dev/stdout`` are caught as well.  Symbolic links elsewhere in the
# file system are the file system's business: they are not followed.

_NETWORK_SHELLS = ("bash", "bash-posix", "ksh93")
_ALL_SHELLS = (
    "dash", "bash", "bash-posix", "busybox", "mksh", "ksh93", "zsh", "zsh-sh", "yash", "posh",
)  # fmt: skip


_DESCRIPTOR_NAMES = ("/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty")


class SpecialPath(NamedTuple):
    """Why a name is not a plain file: ``reason`` (a sentence) and the ``shells`` affected."""

    normalised: str
    reason: str
    shells: tuple[str, ...]


def normalise_path(path: str) -> str:
    """``path`` with ``//``, ``.`` and ``..`` resolved lexically (``/..`` stays ``/``)."""
    absolute = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not absolute:
                parts.append(part)
            continue
        parts.append(part)
    joined = "/".join(parts)
    return "/" + joined if absolute else joined or "."


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def special_path(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> SpecialPath | None:
    """Return why ``path`` is not an ordinary file name, or ``None`` when it is one.

    Relative names are judged as they are written (callers refuse them
    separately: they depend on QEMU's working directory).
    """
    raw = path if type(path) is str else os.fsdecode(os.fspath(path))
    if not raw.startswith(("/dev", "/proc", "/sys")) and "//" not in raw and "/." not in raw:
        return None  # the common case, decided without normalising
    name = normalise_path(raw)
    if _under(name, "/dev/tcp") or _under(name, "/dev/udp"):
        return SpecialPath(
            name,
            f"{raw!r} is a network connection, not a file, for bash and ksh93: a redirection "
            "to it sends the stream over the network",
            _NETWORK_SHELLS,
        )
    if any(_under(name, n) for n in _DESCRIPTOR_NAMES):
        return SpecialPath(
            name,
            f"{raw!r} names one of the pipeline's own file descriptors or QEMU's terminal, "
            "not a file: the stream would go to QEMU's pipe, the shell's stderr or a terminal",
            _ALL_SHELLS,
        )
    if _under(name, "/proc"):
        return SpecialPath(
            name,
            f"{raw!r} is under /proc, where names alias open file descriptors and other "
            "processes' views of the file system, not an ordinary file",
            _ALL_SHELLS,
        )
    if _under(name, "/sys") or (_under(name, "/dev") and not name.startswith("/dev/shm/")):
        return SpecialPath(
            name,
            f"{raw!r} is under {name[:4]}, where names are devices and kernel switches, not "
            "ordinary files (only files under /dev/shm are accepted there)",
            _ALL_SHELLS,
        )
    return None
