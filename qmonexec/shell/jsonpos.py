"""JSON with positions: the small parser the validator reads QMP commands with.

It keeps every string's offsets (so findings point into the original text), refuses
duplicate keys, and stops past :data:`JSON_MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

__all__ = ["JSON_MAX_DEPTH", "JObj", "JStr", "JsonError", "JsonReader", "type_name",
           "value_offset"]

import re
from collections.abc import Callable
from dataclasses import dataclass
from json import JSONDecodeError
from json import decoder as _decoder
from typing import Any

from .findings import Budget, Code

#: How deep the analysis follows JSON nesting.  QEMU itself accepts 1024 levels
#: (:data:`qmonexec.limits.QMP_MAX_DEPTH`), but a migration command is 3 deep: past
#: this the analysis stops and the verdict is ``too-deep`` (unproven), never ok.
JSON_MAX_DEPTH = 64
#: The stdlib's JSON string scanner (untyped in typeshed): (text, index after the
#: opening quote, strict) -> (value, index after the closing quote).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = getattr(_decoder, "scanstring")  # noqa: B009
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class JsonError(Exception):
    def __init__(self, offset: int, message: str, code: Code = Code.JSON_SYNTAX) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.code = code


@dataclass(slots=True)
class JStr:
    value: str
    start: int  # offset of the opening quote
    end: int  # offset just past the closing quote


@dataclass(slots=True)
class JObj:
    start: int
    members: dict[str, tuple[Any, int]]  # key -> (value, key offset)


def _check_depth(i: int, depth: int) -> None:
    if depth > JSON_MAX_DEPTH:
        raise JsonError(
            i,
            f"the JSON is nested more than {JSON_MAX_DEPTH} levels deep, more than the "
            "analysis follows, so it is not proven safe: flatten it",
            Code.TOO_DEEP,
        )


class JsonReader:
    """A small JSON parser that keeps string positions and refuses duplicate keys."""

    def __init__(self, text: str, budget: Budget) -> None:
        self.text = text
        self.budget = budget

    def ws(self, i: int) -> int:
        text = self.text
        n = len(text)
        while i < n and text[i] in " \t\n\r":
            i += 1
        return i

    def value(self, i: int, depth: int) -> tuple[Any, int]:
        self.budget.spend()
        text = self.text
        i = self.ws(i)
        if i >= len(text):
            raise JsonError(i, "the JSON text ends where a value should follow")
        c = text[i]
        if c == "{":
            return self.obj(i, depth + 1)
        if c == "[":
            return self.arr(i, depth + 1)
        if c == '"':
            return self.string(i)
        if c == "'":
            raise JsonError(
                i, "QEMU accepts single-quoted JSON strings, qmonexec does not: use double quotes"
            )
        m = _NUMBER.match(text, i)
        if m is not None:
            return float(m.group()) if m.group().strip("-0123456789") else int(m.group()), m.end()
        for word, val in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return val, i + len(word)
        raise JsonError(i, f"{text[i]!r} cannot start a JSON value")

    def string(self, i: int) -> tuple[JStr, int]:
        try:
            value, end = _scanstring(self.text, i + 1, True)
        except JSONDecodeError as exc:
            raise JsonError(exc.pos, f"bad JSON string: {exc.msg}") from None
        return JStr(value, i, end), end

    def obj(self, i: int, depth: int) -> tuple[JObj, int]:
        _check_depth(i, depth)
        text = self.text
        members: dict[str, tuple[Any, int]] = {}
        start = i
        i = self.ws(i + 1)
        if text.startswith("}", i):
            return JObj(start, members), i + 1
        while True:
            i = self.ws(i)
            if not text.startswith('"', i):
                raise JsonError(i, "a JSON object key must be a double-quoted string")
            key, i = self.string(i)
            i = self.ws(i)
            if not text.startswith(":", i):
                raise JsonError(i, "expected ':' after the JSON key")
            val, i = self.value(i + 1, depth)
            if key.value in members:
                raise JsonError(
                    key.start,
                    f"the key {key.value!r} appears twice; parsers disagree on which one wins "
                    "(QEMU rejects it): keep one",
                    Code.JSON_DUPLICATE_KEY,
                )
            members[key.value] = (val, key.start)
            i = self.ws(i)
            if text.startswith(",", i):
                i += 1
            elif text.startswith("}", i):
                return JObj(start, members), i + 1
            else:
                raise JsonError(i, "expected ',' or '}' in the JSON object")

    def arr(self, i: int, depth: int) -> tuple[list[Any], int]:
        _check_depth(i, depth)
        text = self.text
        items: list[Any] = []
        i = self.ws(i + 1)
        if text.startswith("]", i):
            return items, i + 1
        while True:
            val, i = self.value(i, depth)
            items.append(val)
            i = self.ws(i)
            if text.startswith(",", i):
                i += 1
            elif text.startswith("]", i):
                return items, i + 1
            else:
                raise JsonError(i, "expected ',' or ']' in the JSON array")


def type_name(value: Any) -> str:
    if isinstance(value, JStr):
        return "a string"
    if isinstance(value, JObj):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def value_offset(value: Any, fallback: int) -> int:
    if isinstance(value, (JStr, JObj)):
        return value.start
    return fallback
