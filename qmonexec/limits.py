"""What QEMU's monitors accept: sizes, nesting, and the text a QMP string can carry.

A leaf module (it imports nothing of qmonexec), shared by the quoting code,
the QMP client and the validator.  How each limit was measured:
docs/reference.md, sections 2 (QMP) and 3 (HMP).
"""

from __future__ import annotations

__all__ = [
    "HMP_MAX_BYTES",
    "QMP_MAX_DEPTH",
    "QMP_MAX_MESSAGE",
    "QMP_TEXT_ADVICE",
    "qmp_text_problem",
]

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
