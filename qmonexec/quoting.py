"""Shell and monitor quoting, correct by construction.

The contract (measured across 17 shell setups, see docs/reference.md, section 4):

* A non-empty word made only of ``A-Z a-z 0-9 _ . / : @ % + , -`` is left bare.
* Anything else is wrapped in single quotes, each ``'`` written ``'\\''``.
  The empty word is ``''``.  Backslash quoting and ``$'...'`` are never
  produced: both are unsafe or unsupported in some shell or locale.
* NUL cannot be passed to a shell at all and is always an error.

Values may be ``str``, ``bytes`` or ``os.PathLike``.  ``str`` values are
encoded as the OS does for file names (UTF-8, with ``surrogateescape`` so that
a name read from the file system keeps its exact bytes).  Quoted results are
``str``; bytes that are not UTF-8 survive as surrogate escapes, which
:func:`check_qmp_text` then refuses before anything travels inside JSON.
"""

from __future__ import annotations

__all__ = [
    "SAFE_CHARS",
    "Value",
    "check_qmp_text",
    "check_qmp_value",
    "quote_hmp",
    "quote_word",
    "quote_words",
    "to_bytes",
    "walk_strings",
]

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

from .errors import InputError
from .limits import HMP_MAX_BYTES, QMP_MAX_DEPTH, QMP_TEXT_ADVICE, qmp_text_problem

Value = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

#: The characters that stay unquoted: safe in every shell setup and position measured.
SAFE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,-"
_BARE = re.compile("[" + re.escape(SAFE_CHARS) + "]+")
_BARE_BYTES = re.compile(b"[" + re.escape(SAFE_CHARS.encode("ascii")) + b"]+")


def to_bytes(value: Value, *, what: str = "value") -> bytes:
    """Return the exact bytes a shell will see for ``value``.

    Raises :class:`InputError` for NUL bytes, for ``str`` values holding lone
    surrogates that cannot stand for bytes, and for unsupported types.
    """
    raw = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{what} holds a lone surrogate at offset {exc.start} that stands for no byte; "
                "pass the path as bytes or as a str decoded with os.fsdecode()",
                value=value,
                position=exc.start,
            ) from None
    elif isinstance(raw, bytes):
        data = raw
    else:
        raise InputError(
            f"{what} must be str, bytes or os.PathLike, not {type(value).__name__}", value=value
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(
            f"{what} contains a NUL byte at offset {nul}; a shell word cannot carry NUL: "
            "remove it from the value",
            value=value,
            position=nul,
        )
    return data


def quote_word(value: Value, *, what: str = "value") -> str:
    """Quote one shell word so every POSIX shell reads back exactly its bytes."""
    if type(value) is str:  # the common case, without a round trip through bytes
        if _BARE.fullmatch(value):
            return value
        if "\0" not in value:
            try:
                value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                pass  # to_bytes below raises with the position
            else:
                return "'" + value.replace("'", "'\\''") + "'"
    data = to_bytes(value, what=what)
    if _BARE_BYTES.fullmatch(data):
        return data.decode("ascii")
    text = data.decode("utf-8", "surrogateescape")
    return "'" + text.replace("'", "'\\''") + "'"


def quote_words(argv: Iterable[Value], *, what: str = "argument") -> str:
    """Quote each word of ``argv`` and join them with single spaces."""
    words = [quote_word(arg, what=f"{what} {i}") for i, arg in enumerate(argv)]
    if not words:
        raise InputError(f"{what} list is empty; give at least a program name")
    return " ".join(words)


def check_qmp_text(text: str, *, what: str = "string") -> str:
    """Return ``text`` unchanged if QMP can carry it exactly, else raise :class:`InputError`.

    The rule is :func:`qmonexec.limits.qmp_text_problem`: valid UTF-8 without
    NUL, lone surrogates or noncharacters.
    """
    if text.isascii() and "\0" not in text:
        return text
    for i, ch in enumerate(text):
        problem = qmp_text_problem(ch)
        if problem is not None:
            raise InputError(f"{what} holds {problem} at offset {i}; {QMP_TEXT_ADVICE}",
                             value=text, position=i)
    return text


def walk_strings(value: Any, path: str = "arguments", depth: int = 1) -> Iterator[tuple[str, str]]:
    """Yield ``(path, string)`` for every string inside ``value``, keys included.

    Raises :class:`InputError` for values JSON cannot represent (non-string
    keys, NaN/infinity, other types) and for nesting deeper than QEMU accepts.
    Iterative, so deep nesting cannot exhaust Python's recursion limit.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        # QEMU counts objects and arrays only: a scalar inside the deepest one adds no level.
        if level > QMP_MAX_DEPTH and isinstance(item, (Mapping, list, tuple)):
            raise InputError(
                f"{path} is nested deeper than QEMU's limit of {QMP_MAX_DEPTH} levels"
            )
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, bool) or item is None or isinstance(item, int):
            continue
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise InputError(f"{where} is {item!r}, which JSON (and QMP) cannot carry")
        elif isinstance(item, Mapping):
            children: list[tuple[Any, str, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InputError(
                        f"{where} has the key {key!r} of type {type(key).__name__}; "
                        "QMP object keys must be strings"
                    )
                yield f"{where} key {key!r}", key
                children.append((child, f"{where}[{key!r}]", level + 1))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(
                (child, f"{where}[{i}]", level + 1) for i, child in reversed(list(enumerate(item)))
            )
        else:
            raise InputError(
                f"{where} is a {type(item).__name__}; QMP arguments hold only "
                "str, int, float, bool, None, lists and dicts"
            )


def check_qmp_value(value: Any, *, what: str = "arguments") -> None:
    """Refuse any value QMP cannot carry exactly: every string (keys too) passes
    :func:`check_qmp_text`, and the value must be JSON QEMU accepts (see :func:`walk_strings`).
    """
    for path, text in walk_strings(value, what):
        check_qmp_text(text, what=path)


def quote_hmp(text: str, *, what: str = "HMP argument") -> str:
    """Quote ``text`` as one double-quoted HMP string argument.

    Only ``\\\\ \\" \\n \\r`` escapes are produced.  QEMU silently truncates
    HMP strings longer than 1023 bytes, so longer values are refused.
    """
    check_qmp_text(text, what=what)
    size = len(text.encode("utf-8"))
    if size > HMP_MAX_BYTES:
        raise InputError(
            f"{what} is {size} bytes long; QEMU's human monitor silently truncates strings "
            f"to {HMP_MAX_BYTES} bytes: use the QMP form (--format qmp or virsh) or a shorter path",
            value=text,
            position=HMP_MAX_BYTES,
        )
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return '"' + escaped + '"'
